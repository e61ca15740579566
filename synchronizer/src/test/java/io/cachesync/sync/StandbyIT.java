package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two {@code cachesync run} of the same name: the second stands by while the first streams, and
 * takes the replication slot over when the first dies, resuming where it stopped.
 */
class StandbyIT {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String MAPPING =
      "tables:\n  - table: public.counters\n    key: \"counter:{id}\"\n";

  private SyncHarness harness;
  private DaemonProcess first;
  private DaemonProcess second;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("standby");
    harness.sql(
        "CREATE TABLE counters (id int PRIMARY KEY, value int)",
        "INSERT INTO counters SELECT i, 0 FROM generate_series(1, 10) AS i");
    Path config = harness.config(MAPPING);
    first = new DaemonProcess(config);
    second = new DaemonProcess(config);
  }

  @AfterEach
  void tearDown() {
    first.close();
    second.close();
    harness.close();
  }

  @Test
  void run_secondDaemonOfTheSameName_standsByAndTakesOverWhenTheFirstIsKilled() {
    first.start();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> assertThat(harness.redis.keys("counter:*")).hasSize(10));
    second.start();
    second.awaitLog("Standing by", WAIT);

    harness.sql("UPDATE counters SET value = 1 WHERE id = 1");
    awaitValue("counter:1", "1");
    assertThat(first.alive()).isTrue();
    assertThat(second.log()).doesNotContain("Streaming from replication slot");

    long killed = System.nanoTime();
    first.kill();
    second.awaitLog("Took over replication slot cachesync_it", WAIT);
    Duration takeover = Duration.ofNanos(System.nanoTime() - killed);
    harness.sql(
        "UPDATE counters SET value = 2 WHERE id = 1",
        "DELETE FROM counters WHERE id = 2",
        "INSERT INTO counters VALUES (11, 2)");
    awaitValue("counter:1", "2");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.keys("counter:*"))
                    .contains("counter:11")
                    .doesNotContain("counter:2")
                    .hasSize(10));
    assertThat(harness.redis.hash("counter:11")).isEqualTo(Map.of("id", "11", "value", "2"));
    assertThat(second.log())
        .as("resumed from the first daemon's position")
        .doesNotContain("loading every mapped table");

    assertThat(second.terminate(Duration.ofSeconds(15))).as(second.tail()).isZero();
    System.out.printf(
        "StandbyIT: second daemon stood by, took over %d ms after SIGKILL of the first, streamed 3"
            + " changes, exited 0 on SIGTERM%n",
        takeover.toMillis());
  }

  private void awaitValue(String key, String value) {
    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.hash(key)).containsEntry("value", value));
  }
}
