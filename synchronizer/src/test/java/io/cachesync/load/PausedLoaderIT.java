package io.cachesync.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A daemon paused in the middle of its initial load, past its writer's lease, resumed after another
 * daemon loaded, streamed newer rows and stopped: the initial load writes without the version
 * guard, so only its fence keeps the paused daemon's old rows out. (A cold review reproduced 6,308
 * stale keys here when the fence took back a lease nobody held.)
 */
class PausedLoaderIT {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final String LEASE = "cachesync:" + SyncHarness.NAME + ":writer";

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("pausedloader");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void pausedLoader_resumedAfterAnotherDaemonLoadedStreamedAndStopped_writesNothingStale()
      throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text)",
        "INSERT INTO items SELECT g, repeat('n', 200) FROM generate_series(1, 60000) g");
    Path config = harness.config(MAPPING);
    // One reader and small ranges: the load is slow enough to be paused in its middle.
    try (DaemonProcess a =
        new DaemonProcess(config, "-Dcachesync.loadPagesPerRange=8", "-Dcachesync.loadReaders=1")
            .start()) {
      a.awaitLog("Initial load: 1 tables", WAIT);
      await().atMost(WAIT).until(() -> harness.redis.redis().dbsize() > 1000);
      a.pause();
      assertThat(a.log()).doesNotContain("Initial load done");
      await("A's lease expired").atMost(WAIT).until(() -> harness.redis.redis().exists(LEASE) == 0);

      try (DaemonProcess b = new DaemonProcess(config).start()) {
        b.awaitLog("Initial load done", WAIT);
        harness.sql("UPDATE items SET name = 'newer' WHERE id <= 30000");
        await()
            .atMost(WAIT)
            .until(() -> "newer".equals(harness.redis.hash("item:30000").get("name")));
        assertThat(b.terminate(WAIT)).isZero();
      }
      assertThat(harness.redis.redis().exists(LEASE)).as("B gave the lease up").isZero();

      a.resume();
      a.awaitLog("Redis lost the cache of", WAIT);
      harness.sql("INSERT INTO items VALUES (0, 'marker')");
      await().atMost(WAIT).until(() -> harness.redis.redis().exists("item:0") == 1);
      harness.assertRedisHolds(
          "item:*", harness.rowsAsHashes("SELECT id, name FROM items", "item:"));
      assertThat(a.count("Initial load done")).as(a.decisions(20)).isZero();
    }
  }
}
