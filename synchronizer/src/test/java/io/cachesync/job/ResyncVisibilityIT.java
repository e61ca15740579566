package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A resync chunk must not be read in a snapshot that misses a transaction committed before its low
 * watermark. PostgreSQL shows such a transaction to others only after it wrote its commit record;
 * under synchronous replication, only once a standby confirmed it. Here a standby that never
 * answers holds one transaction in that state: the stream already applied its update, and a chunk
 * read meanwhile would write the row's older value back at a higher version, for good.
 */
class ResyncVisibilityIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";

  private PostgresServer postgres;
  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    // Every session commits locally, except the one that asks for the (missing) standby.
    postgres =
        TestServers.postgres(
            Map.of("synchronous_standby_names", "nobody", "synchronous_commit", "local"));
    harness = new SyncHarness(postgres, "visibility");
  }

  @AfterEach
  void tearDown() {
    harness.close();
    postgres.close();
  }

  @Test
  void resync_waitsForATransactionCommittedButNotYetVisible() throws Exception {
    resyncWhileATransactionIsHeld(false);
  }

  /**
   * The same, with the daemon restarted after it streamed the held transaction: the new daemon
   * never decodes it, and must still not trust a snapshot that misses it.
   */
  @Test
  void resync_byADaemonStartedAfterTheHeldTransactionStreamed_waitsForItToo() throws Exception {
    resyncWhileATransactionIsHeld(true);
  }

  private void resyncWhileATransactionIsHeld(boolean restart) throws Exception {
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int)",
        "INSERT INTO items SELECT i, 0 FROM generate_series(1, 100) i");
    harness.start(MAPPING);
    await().atMost(Duration.ofSeconds(60)).until(() -> harness.redis.keys("item:*").size() == 100);

    CompletableFuture<Void> waitingForStandby =
        CompletableFuture.runAsync(
            () ->
                harness.sql(
                    "SET synchronous_commit = on", "UPDATE items SET value = 999 WHERE id = 1"));
    // The update is in the WAL and streamed, but no other session sees it yet.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "999".equals(harness.redis.redis().hget("item:1", "value")));
    assertThat(scalar("SELECT value FROM items WHERE id = 1")).isEqualTo("0");
    if (restart) {
      // A change after the held one, confirmed to PostgreSQL: the next daemon streams from past
      // both, so it never sees the held transaction.
      harness.sql("INSERT INTO items VALUES (101, 0)");
      String after = scalar("SELECT pg_current_wal_lsn()::text");
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  "t"
                      .equals(
                          scalar(
                              "SELECT bool_and(confirmed_flush_lsn >= '"
                                  + after
                                  + "'::pg_lsn) FROM pg_replication_slots WHERE database ="
                                  + " current_database()")));
      harness.stopDaemon();
      harness.start(MAPPING);
    }

    CompletableFuture<CommandRun> resync =
        CompletableFuture.supplyAsync(
            () ->
                CommandRun.of("resync", "--config", harness.config(MAPPING).toString(), "--quiet"));
    // The chunk's reader must see that its snapshot missed the committed update, and wait for it;
    // without that the resync ends here, having written the row's older value back.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                resync.isDone()
                    || !"0"
                        .equals(
                            scalar(
                                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE"
                                    + " '%pg_visible_in_snapshot%' AND pid <> pg_backend_pid()")));

    harness.sql("ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()");
    waitingForStandby.get();
    CommandRun done = resync.get(120, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(done.exitCode()).as(done.output()).isEqualTo(ExitCode.OK);

    assertThat(harness.redis.redis().hget("item:1", "value")).isEqualTo("999");
    CommandRun verify = CommandRun.of("verify", "--config", harness.config(MAPPING).toString());
    assertThat(verify.exitCode()).as(verify.output()).isEqualTo(ExitCode.OK);
  }

  private String scalar(String sql) throws Exception {
    try (Connection connection = postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery(sql)) {
      result.next();
      return result.getString(1);
    }
  }
}
