package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A value larger than Redis accepts is evicted and counted; the stream goes on (invariant 4). */
class OversizeValueIT {
  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("oversize", "--proto-max-bulk-len", "1mb");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void run_valueLargerThanRedisAccepts_isEvictedCountedAndTheStreamGoesOn() throws Exception {
    harness.sql(
        "CREATE TABLE docs (id int PRIMARY KEY, body text)",
        "INSERT INTO docs VALUES (1, 'small')");
    harness.start("tables:\n  - table: public.docs\n    key: \"doc:{id}\"\n");
    await().atMost(Duration.ofSeconds(30)).until(() -> harness.redis.redis().exists("doc:1") == 1);

    harness.sql(
        "UPDATE docs SET body = repeat('x', 2 * 1024 * 1024) WHERE id = 1",
        "INSERT INTO docs VALUES (2, 'after')");

    await().atMost(Duration.ofSeconds(30)).until(() -> harness.redis.redis().exists("doc:2") == 1);
    assertThat(harness.redis.redis().exists("doc:1")).as("the stale small value is gone").isZero();
    assertThat(harness.daemon().synchronizer().counts().failed()).isEqualTo(1);
  }
}
