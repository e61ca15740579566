package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TcpProxy;
import io.cachesync.testing.WriteHistory;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A daemon that should have stopped cannot regress data (invariant 2). Daemon A is cut off from
 * Redis while it holds a batch of updates, then from PostgreSQL, which frees the replication slot;
 * daemon B takes the slot over and applies those updates and newer ones; then A's network comes
 * back and its retry lands the old batch. The version guard refuses it. The same run with the guard
 * switched off shows the regression, so this test fails without the guard. Both run with the
 * writer's lease fence switched off, which otherwise refuses the old batch before it reaches Redis
 * (B holds the lease by then): the third test.
 */
class StaleDaemonIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final int ROWS = 100;
  private static final Duration WAIT = Duration.ofSeconds(60);

  private SyncHarness harness;
  private TcpProxy postgresProxy;
  private TcpProxy redisProxy;
  private WriteHistory history;
  private DaemonProcess stale;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("stale");
    postgresProxy = new TcpProxy(harness.postgres.host(), harness.postgres.port());
    redisProxy = new TcpProxy(harness.redisServer.host(), harness.redisServer.port());
    history = new WriteHistory(harness.redisServer);
  }

  @AfterEach
  void tearDown() {
    redisProxy.restore();
    postgresProxy.restore();
    if (stale != null) {
      stale.close();
    }
    history.close();
    harness.close();
    postgresProxy.close();
    redisProxy.close();
  }

  @Test
  void staleDaemon_fencedByTheLease_writesNothingAndStops() throws Exception {
    raceAStaleDaemon(false, true);
    // A's retry found B holding the writer's lease: refused before Redis applied any of it.
    stale.awaitLog("Lost the writer's role", WAIT);
    history.awaitCaughtUp(WAIT);

    assertThat(history.refusedWrites())
        .as("nothing of A's old batch reached the version guard:%n%s", stale.decisions(10))
        .isZero();
    assertThat(values()).as("every item keeps B's newer value").containsOnly("2");
    assertThat(history.regressions()).isEmpty();
    System.out.println("stale daemon: its old batch refused by the writer's lease, it stopped");
  }

  @Test
  void staleDaemon_withTheVersionGuard_cannotRegressData() throws Exception {
    raceAStaleDaemon(false, false);
    // A's retried batch holds some or all of the 100 older updates, as Debezium happened to hand
    // them over before the cut; the rest may be dropped when Debezium restarts its lost stream.
    try {
      await("A's retried batch of old updates refused")
          .atMost(WAIT)
          .until(() -> history.refusedWrites() >= 1);
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError("A's log ends:\n" + stale.tail(), e);
    }

    assertThat(stale.terminate(Duration.ofSeconds(30))).as(stale.tail()).isZero();
    Matcher stopped = Pattern.compile("(\\d+) stale, ").matcher(stale.log());
    assertThat(stopped.find()).as(stale.tail()).isTrue();
    long refused = Long.parseLong(stopped.group(1));
    assertThat(refused).as("A's old writes refused, by its own count").isPositive();
    assertThat(values()).as("every item keeps B's newer value").containsOnly("2");
    assertThat(history.regressions()).isEmpty();
    System.out.printf(
        "stale daemon: %d old writes refused by the version guard, %d writes watched, 0"
            + " regressions%n",
        history.refusedWrites(), history.writesSeen());
  }

  @Test
  void staleDaemon_withoutTheVersionGuard_wouldRegressData() throws Exception {
    raceAStaleDaemon(true, false);

    await("the regressions in the write history")
        .atMost(WAIT)
        .until(() -> !history.regressions().isEmpty());
    assertThat(values()).as("items went back to A's older value").contains("1");
    System.out.printf(
        "stale daemon without the guard: %d regressions, e.g. %s%n",
        history.regressions().size(), history.regressions().get(0));
  }

  /**
   * Runs the race with daemon A in its own process (two Debezium engines of one name cannot share a
   * JVM: their JMX metrics collide), until A's retried batch has been applied or refused.
   */
  private void raceAStaleDaemon(boolean unguarded, boolean fenced) throws Exception {
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int)",
        "INSERT INTO items SELECT i, 0 FROM generate_series(1, " + ROWS + ") i");
    stale =
        new DaemonProcess(
            harness.configThrough(postgresProxy, redisProxy, MAPPING),
            "-D" + LettuceCacheWriter.UNSAFE_NO_VERSION_GUARD + "=" + unguarded,
            "-D" + LettuceCacheWriter.UNSAFE_NO_LEASE_FENCE + "=" + !fenced);
    stale.start();
    await().atMost(WAIT).until(() -> harness.redis.keys("item:*").size() == ROWS);
    await("A streaming").atMost(WAIT).until(this::slotActive);

    // A must be stuck on a batch that holds the update; when the batch it is stuck on came
    // before it (a heartbeat), let A through and try again.
    for (int attempt = 1; ; attempt++) {
      awaitAIdle();
      long before = currentLsn();
      int retries = stale.count("Redis cannot take the batch at");
      int recovered = stale.count("Redis took the batch again");
      redisProxy.cut();
      harness.sql("UPDATE items SET value = 1");
      await("A retrying a batch")
          .atMost(WAIT)
          .until(() -> stale.count("Redis cannot take the batch at") >= retries + 2);
      if (lastRetriedPosition() > before) {
        break;
      }
      assertThat(attempt)
          .as(
              "A got stuck on a batch holding the update (stuck at %x, update after %x):%n%s",
              lastRetriedPosition(), before, stale.tail())
          .isLessThan(5);
      redisProxy.restore();
      await("A through")
          .atMost(WAIT)
          .until(() -> stale.count("Redis took the batch again") > recovered);
    }
    postgresProxy.cut();
    await("the slot freed").atMost(WAIT).until(() -> !slotActive());
    // A cannot renew its writer's lease through the cut; B, standing by, would take the role once
    // the lease expires.
    await("A's lease expired")
        .atMost(WAIT)
        .until(() -> harness.redis.redis().exists("cachesync:it:writer") == 0);

    harness.start(MAPPING);
    harness.sql("UPDATE items SET value = 2");
    await("B's newer values").atMost(WAIT).until(() -> values().equals(Set.of("2")));

    // Counted, not searched: an earlier attempt above may have logged the line already.
    int recovered = stale.count("Redis took the batch again");
    redisProxy.restore();
    if (!fenced) {
      await("A's retry of the old batch")
          .atMost(WAIT)
          .failFast("A stopped:\n" + stale.tail(), () -> !stale.alive())
          .until(() -> stale.count("Redis took the batch again") > recovered);
    }
  }

  /** Waits until A has applied a change made now: nothing older is left for it to apply. */
  private void awaitAIdle() {
    long mark = currentLsn();
    harness.sql("UPDATE items SET value = value WHERE id = 1");
    await("A applying everything so far")
        .atMost(WAIT)
        .until(
            () -> {
              String version = harness.redis.redis().hget("cachesync:it:position", "version");
              return version != null && Long.parseUnsignedLong(version.substring(16), 16) > mark;
            });
  }

  private long currentLsn() {
    try (var connection = harness.postgres.connect(harness.database);
        var statement = connection.createStatement();
        var row = statement.executeQuery("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")) {
      row.next();
      return row.getLong(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The position of the batch A last logged a retry of. */
  private long lastRetriedPosition() {
    Matcher retry =
        Pattern.compile("Redis cannot take the batch at ([0-9A-F]+)/([0-9A-F]+)")
            .matcher(stale.log());
    long position = -1;
    while (retry.find()) {
      position = (Long.parseLong(retry.group(1), 16) << 32) | Long.parseLong(retry.group(2), 16);
    }
    return position;
  }

  private boolean slotActive() {
    try (var connection = harness.postgres.connect(harness.database);
        var statement = connection.createStatement();
        var row =
            statement.executeQuery(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'cachesync_it'")) {
      return row.next() && row.getBoolean(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private Set<String> values() {
    List<String> keys =
        IntStream.rangeClosed(1, ROWS).mapToObj(id -> "item:" + id).collect(Collectors.toList());
    return keys.stream()
        .map(key -> String.valueOf(harness.redis.redis().hget(key, "value")))
        .collect(Collectors.toSet());
  }
}
