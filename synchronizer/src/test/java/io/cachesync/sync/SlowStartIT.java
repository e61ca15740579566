package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.Daemon;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.config.PostgresSettings;
import io.cachesync.model.TableId;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.Publications;
import io.cachesync.state.WriterLease;
import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A start slower than the writer's lease lives (a transaction holding a lock that CREATE
 * PUBLICATION waits for) keeps the writer's role; two starts that create the publication at once
 * both go on.
 */
class SlowStartIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final String LEASE = "cachesync:" + SyncHarness.NAME + ":writer";
  private static final Duration WAIT = Duration.ofSeconds(40);

  private SyncHarness harness;
  private Connection locker;

  @BeforeEach
  void setUp() throws Exception {
    harness = new SyncHarness("slowstart");
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int)",
        "INSERT INTO items SELECT i, 0 FROM generate_series(1, 10) AS i");
    locker = harness.postgres.connect(harness.database);
    locker.setAutoCommit(false);
    try (Statement statement = locker.createStatement()) {
      // What a long VACUUM or CREATE INDEX CONCURRENTLY holds: CREATE PUBLICATION waits for it.
      statement.execute("LOCK TABLE items IN SHARE UPDATE EXCLUSIVE MODE");
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    locker.close();
    harness.close();
  }

  @Test
  void start_slowerThanTheLeaseTtl_keepsTheWritersRoleThroughout() throws Exception {
    CompletableFuture<Daemon> started =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return harness.start(MAPPING);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    await("the lease taken").atMost(WAIT).until(() -> harness.redis.redis().get(LEASE) != null);
    String holder = harness.redis.redis().get(LEASE);
    awaitBlockedOn("CREATE PUBLICATION", 1);

    // Past the lease's TTL, the start still waits for the lock: the lease must still be its own.
    await("the lease kept while the start waits")
        .during(WriterLease.TTL.plus(Duration.ofSeconds(3)))
        .atMost(WriterLease.TTL.plus(Duration.ofSeconds(20)))
        .until(() -> holder.equals(harness.redis.redis().get(LEASE)));
    assertThat(started).as("still starting").isNotDone();

    locker.rollback();
    Daemon daemon = started.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(daemon.state()).isEqualTo(Daemon.State.RUNNING);
    await().atMost(WAIT).until(() -> harness.redis.keys("item:*").size() == 10);
    assertThat(harness.redis.redis().get(LEASE)).isEqualTo(holder);
    System.out.println("SlowStartIT: the lease was renewed through a start slower than its TTL");
  }

  @Test
  void ensurePublication_twoAtOnce_bothSucceed() throws Exception {
    PostgresSettings settings =
        new ConfigurationLoader(Map.of()).load(harness.config(MAPPING)).settings().postgres();
    List<TableId> tables = List.of(TableId.parse("public.items"));
    List<CompletableFuture<Void>> ensures =
        List.of(ensureAsync(settings, tables), ensureAsync(settings, tables));
    // Both found no publication and wait for the lock to create it.
    awaitBlockedOn("CREATE PUBLICATION", 2);

    locker.rollback();

    for (CompletableFuture<Void> ensure : ensures) {
      ensure.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
    System.out.println("SlowStartIT: two concurrent CREATE PUBLICATION both went on");
  }

  private static CompletableFuture<Void> ensureAsync(
      PostgresSettings settings, List<TableId> tables) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            new Publications(new PostgresConnector(settings)).ensure("cachesync_it", tables);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
  }

  /** Waits until {@code count} sessions wait for a lock running a statement that starts so. */
  private void awaitBlockedOn(String statement, int count) {
    await(count + " sessions waiting for the lock in " + statement)
        .atMost(WAIT)
        .until(
            () -> {
              try (var connection = harness.postgres.connect(harness.database);
                  var query =
                      connection.prepareStatement(
                          "SELECT count(*) FROM pg_stat_activity WHERE datname = ?"
                              + " AND wait_event_type = 'Lock' AND query LIKE ?"); ) {
                query.setString(1, harness.database);
                query.setString(2, statement + "%");
                try (var row = query.executeQuery()) {
                  row.next();
                  return row.getInt(1) == count;
                }
              }
            });
  }
}
