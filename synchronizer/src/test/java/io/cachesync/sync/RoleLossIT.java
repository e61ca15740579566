package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.Daemon;
import io.cachesync.testing.SyncHarness;
import io.lettuce.core.SetArgs;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A daemon whose writer's lease another daemon holds now stops writing. */
class RoleLossIT {
  private static final String MAPPING =
      "tables:\n  - table: public.counters\n    key: \"counter:{id}\"\n";
  private static final String LEASE = "cachesync:" + SyncHarness.NAME + ":writer";

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("roleloss");
    harness.sql(
        "CREATE TABLE counters (id int PRIMARY KEY, value int)",
        "INSERT INTO counters SELECT i, 0 FROM generate_series(1, 10) AS i");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void run_anotherDaemonHoldsTheLeaseNow_stopsWritingAndAsksToStartAgain() throws Exception {
    Daemon daemon = harness.start(MAPPING);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> harness.redis.keys("counter:*").size() == 10);
    assertThat(harness.redis.redis().get(LEASE)).as("held while it runs").isNotNull();

    // As after this daemon's lease expired (a pause, a partition) and a standby took it; a change
    // committed right then must not be written by this daemon, which no longer holds the role.
    harness.redis.redis().set(LEASE, "12345@elsewhere/standby", SetArgs.Builder.px(60_000));
    harness.sql("UPDATE counters SET value = 5 WHERE id = 1");

    await().atMost(Duration.ofSeconds(30)).until(() -> daemon.terminated().isDone());
    assertThat(daemon.terminated().join()).isEqualTo(Daemon.State.STOPPED);
    assertThat(daemon.reloadNeeded()).as("starting again stands by").isTrue();
    assertThat(harness.redis.redis().get(LEASE)).isEqualTo("12345@elsewhere/standby");
    assertThat(harness.redis.redis().hget("counter:1", "value"))
        .as("the change committed after the takeover is left to the new holder")
        .isEqualTo("0");
    System.out.println("RoleLossIT: the daemon stopped writing once another held its lease");
  }
}
