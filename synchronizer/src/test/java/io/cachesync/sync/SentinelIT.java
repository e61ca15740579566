package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisSentinelGroup;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Redis behind Sentinel (invariants 3 and 5): the daemon (the real jar) writes to whichever server
 * Sentinel names master, notices when a failover lost writes Redis had acknowledged and streams
 * them again, and with {@code redis.waitReplicas} confirms nothing to PostgreSQL that no replica
 * holds.
 */
class SentinelIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String SLOT = "cachesync_" + SyncHarness.NAME;
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";
  private static final String ROWS = "SELECT id, name FROM users";
  private static final String LOST_WRITES = "Redis lost writes it had acknowledged";
  private static final String OFFSETS_REFUSED = "Redis refused the offsets";

  private SyncHarness harness;
  private RedisSentinelGroup group;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("sentinel");
    group = new RedisSentinelGroup(harness.redisServer);
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 50) AS i");
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    group.close();
    harness.close();
  }

  @Test
  void failover_whileWriting_followsTheNewMasterAndConverges() throws Exception {
    startDaemon(0);
    AtomicInteger updates = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread writer = updateContinuously(updates, failure);
    await("300 updates").atMost(WAIT).until(() -> updates.get() >= 300);
    writer.interrupt();
    writer.join();
    awaitMasterMatchesTable();
    group.awaitReplicaInSync();
    writer = updateContinuously(updates, failure);

    RedisServer before = group.master();
    int updatesBefore = updates.get();
    group.failover();
    int atFailover = updates.get();
    await("200 more updates").atMost(WAIT).until(() -> updates.get() >= atFailover + 200);
    writer.interrupt();
    writer.join();
    assertThat(failure.get()).as("the writer").isNull();

    awaitMasterMatchesTable();
    assertThat(group.master()).as("the master changed").isNotSameAs(before);
    assertThat(daemon.alive()).isTrue();
    System.out.printf(
        "SentinelIT: failover after %d updates, %d updates in all; the new master equals the"
            + " table; acknowledged writes lost and streamed again: %s%n",
        updatesBefore,
        updates.get(),
        daemon.count(LOST_WRITES) + daemon.count(OFFSETS_REFUSED) > 0);
  }

  @Test
  void masterKilledWithTheReplicaCutOff_lostWritesNoticedAndStreamedAgain() throws Exception {
    startDaemon(0);
    group.awaitReplicaInSync();
    RedisServer replica = group.replica();
    group.cutReplication();
    harness.sql(
        "UPDATE users SET name = 'renamed ' || id WHERE id <= 20",
        "DELETE FROM users WHERE id > 45",
        "INSERT INTO users SELECT i, 'new ' || i FROM generate_series(51, 55) AS i");
    awaitMasterMatchesTable(); // the master acknowledged them; the cut-off replica has none

    group.killMaster();
    group.awaitPromoted(replica);
    // The next batch finds the new master behind what was acknowledged.
    harness.sql("UPDATE users SET name = 'after failover' WHERE id = 1");

    // Whichever reaches the new master first notices: the next batch, or the next offsets save.
    try {
      await("the daemon to notice the lost writes")
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(100))
          .failFast("the daemon exited", () -> !daemon.alive())
          .until(() -> daemon.count(LOST_WRITES) + daemon.count(OFFSETS_REFUSED) > 0);
    } catch (org.awaitility.core.ConditionTimeoutException
        | org.awaitility.core.TerminalFailureException e) {
      throw new AssertionError(e.getMessage() + "\nThe daemon's log:\n" + daemon.log(), e);
    }
    awaitMasterMatchesTable();
    System.out.printf(
        "SentinelIT: master killed with its replica behind -> the daemon noticed the lost writes"
            + " (%s) and %s; the new master equals the table%n",
        daemon.count(LOST_WRITES) > 0 ? "at a batch" : "at an offsets save",
        daemon.log().contains("loading every mapped table again")
            ? "loaded every table again (the slot had moved past what the replica held)"
            : "streamed them again from the position the replica held");
  }

  @Test
  void waitReplicas_replicaFrozen_confirmsNothingUntilItHoldsTheBatch() throws Exception {
    startDaemon(1);
    group.awaitReplicaInSync();
    RedisServer replica = group.replica();
    replica.pause();
    harness.sql("UPDATE users SET name = 'while frozen' WHERE id = 1");
    long changeLsn = currentLsn();

    // Retries prove time passes with the batch unconfirmed; then the slot must not be past it.
    await("two refused WAITs")
        .atMost(WAIT)
        .until(() -> daemon.count("replicas (redis.waitReplicas) acknowledged") >= 2);
    assertThat(confirmedFlushLsn())
        .as("the slot is not confirmed past a change no replica holds")
        .isLessThan(changeLsn);

    replica.resume();
    await("the slot confirmed past the change")
        .atMost(WAIT)
        .until(() -> confirmedFlushLsn() >= changeLsn);
    try (RedisProbe probe = new RedisProbe(replica)) {
      assertThat(probe.hash("user:1")).containsEntry("name", "while frozen");
    }
    System.out.printf(
        "SentinelIT: waitReplicas=1 with the replica frozen -> %d refused WAITs, slot held"
            + " before the change until the replica caught up%n",
        daemon.count("replicas (redis.waitReplicas) acknowledged"));
  }

  private void startDaemon(int waitReplicas) {
    daemon = new DaemonProcess(harness.configFor(group.uri(), waitReplicas, MAPPING)).start();
    awaitMasterMatchesTable();
  }

  private void awaitMasterMatchesTable() {
    try {
      awaitMasterMatchesTableOrTimeOut();
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      String slot;
      try {
        slot = "slot confirmed to " + Long.toHexString(confirmedFlushLsn());
      } catch (SQLException sql) {
        slot = sql.toString();
      }
      String offsets;
      try (RedisProbe master = new RedisProbe(group.master())) {
        offsets = "";
        for (var entry : master.redis().hgetall("cachesync:it:offsets").entrySet()) {
          offsets +=
              entry.getKey().equals("__epoch")
                  ? ""
                  : new String(java.util.Base64.getDecoder().decode(entry.getValue())) + " ";
        }
        offsets += master.redis().hgetall("cachesync:it:position");
      }
      throw new AssertionError(
          e.getMessage()
              + "\nThe daemon's log:\n"
              + daemon.log()
              + "\n"
              + slot
              + "; the master's offsets: "
              + offsets
              + "\n"
              + group.describe(),
          e);
    }
  }

  private void awaitMasterMatchesTableOrTimeOut() {
    await("the master to equal the table")
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(200))
        .failFast("the daemon exited", () -> !daemon.alive())
        .untilAsserted(
            () -> {
              Map<String, Map<String, String>> rows = harness.rowsAsHashes(ROWS, "user:");
              try (RedisProbe master = new RedisProbe(group.master())) {
                SyncHarness.assertRedisHolds(master, "user:*", rows);
              }
            });
  }

  /** Updates one row after another from a thread of its own until interrupted. */
  private Thread updateContinuously(AtomicInteger updates, AtomicReference<Throwable> failure) {
    Thread thread =
        new Thread(
            () -> {
              try (Connection connection = harness.postgres.connect(harness.database);
                  Statement statement = connection.createStatement()) {
                while (!Thread.currentThread().isInterrupted()) {
                  int n = updates.incrementAndGet();
                  statement.execute(
                      "UPDATE users SET name = 'update " + n + "' WHERE id = " + (1 + n % 50));
                }
              } catch (SQLException e) {
                failure.set(e);
              }
            },
            "sentinel-it-writer");
    thread.start();
    return thread;
  }

  private long currentLsn() throws SQLException {
    return queryLsn("SELECT pg_current_wal_lsn() - '0/0'");
  }

  private long confirmedFlushLsn() throws SQLException {
    return queryLsn(
        "SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = '"
            + SLOT
            + "'");
  }

  private long queryLsn(String sql) throws SQLException {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery(sql)) {
      assertThat(result.next()).as(sql).isTrue();
      return result.getLong(1);
    }
  }
}
