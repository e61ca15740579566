package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Redis loses the cache while {@code cachesync run} streams: the daemon notices that its state is
 * gone, restarts itself in the same process, loads every table again and goes on streaming.
 */
class CacheLossIT {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  private SyncHarness harness;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("cacheloss");
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 50) AS i");
    daemon = new DaemonProcess(harness.config(MAPPING));
  }

  @AfterEach
  void tearDown() {
    daemon.close();
    harness.close();
  }

  @Test
  void run_flushAllWhileStreaming_reloadsEveryTableAndKeepsStreaming() throws Exception {
    daemon.start();
    awaitStreaming();
    long pid = daemon.pid();

    long lost = System.nanoTime();
    harness.redisServer.command("FLUSHALL");

    daemon.awaitLog("Redis lost the cache of it", Duration.ofSeconds(10));
    Duration noticed = Duration.ofNanos(System.nanoTime() - lost);
    awaitRedisMatchesTable(WAIT);
    Duration reloaded = Duration.ofNanos(System.nanoTime() - lost);
    changeRowsAndAwaitThem();
    assertThat(daemon.alive()).as("the same process reloaded").isTrue();
    assertThat(daemon.pid()).isEqualTo(pid);
    assertThat(daemon.log()).contains("Redis holds no position for replication slot cachesync_it");
    assertThat(daemon.terminate(Duration.ofSeconds(15))).as(daemon.tail()).isZero();
    System.out.printf(
        "CacheLossIT: FLUSHALL mid-stream -> noticed after %d ms, same process reloaded 50 rows"
            + " after %d ms, streamed 3 more changes, exited 0%n",
        noticed.toMillis(), reloaded.toMillis());
  }

  /** Redis restarted without persistence: every connection dropped, the dataset empty. */
  @Test
  void run_redisRestartedEmpty_reloadsEveryTableAndKeepsStreaming() throws Exception {
    daemon.start();
    awaitStreaming();

    long lost = System.nanoTime();
    harness.redisServer.restartEmpty();

    daemon.awaitLog("Redis lost the cache of it", Duration.ofSeconds(10));
    Duration noticed = Duration.ofNanos(System.nanoTime() - lost);
    awaitRedisMatchesTable(WAIT);
    Duration reloaded = Duration.ofNanos(System.nanoTime() - lost);
    changeRowsAndAwaitThem();
    assertThat(daemon.terminate(Duration.ofSeconds(15))).as(daemon.tail()).isZero();
    System.out.printf(
        "CacheLossIT: Redis restarted empty -> noticed after %d ms, reloaded 50"
            + " rows after %d ms, streamed 3 more changes, exited 0%n",
        noticed.toMillis(), reloaded.toMillis());
  }

  /**
   * Waits until the daemon streams: the initial load's rows are in Redis before Debezium's engine
   * has started, and a loss while the engine starts is another case (the daemon fails and its
   * command starts it again, which reloads too) than the loss mid-stream these tests are about.
   */
  private void awaitStreaming() {
    awaitRedisMatchesTable(Duration.ofSeconds(60));
    harness.sql("UPDATE users SET name = 'streamed' WHERE id = 1");
    awaitRedisMatchesTable(WAIT);
  }

  private void changeRowsAndAwaitThem() {
    harness.sql(
        "UPDATE users SET name = 'renamed' WHERE id = 3",
        "DELETE FROM users WHERE id = 7",
        "INSERT INTO users VALUES (51, 'user 51')");
    awaitRedisMatchesTable(WAIT);
    assertThat(harness.redis.hash("user:3")).containsEntry("name", "renamed");
  }

  private void awaitRedisMatchesTable(Duration timeout) {
    await()
        .atMost(timeout)
        .failFast(
            "the daemon exited",
            () -> assertThat(daemon.alive()).as(() -> "alive:\n" + daemon.tail()).isTrue())
        .untilAsserted(
            () ->
                harness.assertRedisHolds(
                    "user:*", harness.rowsAsHashes("SELECT id, name FROM users", "user:")));
  }
}
