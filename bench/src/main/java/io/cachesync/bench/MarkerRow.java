package io.cachesync.bench;

import static org.awaitility.Awaitility.await;

import io.cachesync.bench.consumer.DaemonRun;
import io.lettuce.core.api.sync.RedisHashCommands;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;

/**
 * The row that closes each backlog: a counter the benchmark increments after the backlog's last
 * change, so that a consumer has drained the backlog when it has processed that update (for the
 * daemon: when Redis holds its new value).
 */
final class MarkerRow {
  /** The table and its one row, as the first statements of a benchmark database. */
  static final List<String> SCHEMA =
      List.of(
          "CREATE TABLE bench_marker (id int PRIMARY KEY, n bigint NOT NULL)",
          "INSERT INTO bench_marker VALUES (1, 0)");

  /** The table's entry of mapping.yml, which opens the file. */
  static final String MAPPING =
      "tables:\n  - table: public.bench_marker\n    key: \"marker:{id}\"\n";

  private static final String KEY = "marker:1";

  private final Connection connection;
  private final Supplier<? extends RedisHashCommands<String, String>> redis;

  /** The row's value: how many backlogs (and the first start) it closed. */
  private long value;

  /**
   * @param connection to the benchmark's database
   * @param redis the Redis database the daemon writes the row to (one server's, or a cluster's)
   */
  MarkerRow(Connection connection, Supplier<? extends RedisHashCommands<String, String>> redis) {
    this.connection = connection;
    this.redis = redis;
  }

  /** The value the last {@link #bump()} wrote; 0 before the first. */
  long value() {
    return value;
  }

  /** Increments the row in a transaction of its own and returns its new value. */
  long bump() throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet row =
            statement.executeQuery("UPDATE bench_marker SET n = n + 1 WHERE id = 1 RETURNING n")) {
      row.next();
      value = row.getLong(1);
      return value;
    }
  }

  /** PostgreSQL's {@code pg_current_wal_lsn()}. */
  String currentLsn() throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery("SELECT pg_current_wal_lsn()")) {
      row.next();
      return row.getString(1);
    }
  }

  /**
   * Waits until the row's cached value holds {@code n} (checked every 5 ms) and returns {@link
   * System#nanoTime()} then.
   *
   * @throws IllegalStateException with the daemon's last log lines when it exits or the time is up
   */
  long awaitCached(long n, DaemonRun daemon, Duration timeout) {
    return awaitCached(n, redis, daemon, timeout);
  }

  /**
   * As {@link #awaitCached(long, DaemonRun, Duration)}, in {@code redis}: where another
   * synchronizer of the same database caches the row.
   */
  static long awaitCached(
      long n,
      Supplier<? extends RedisHashCommands<String, String>> redis,
      DaemonRun daemon,
      Duration timeout) {
    try {
      await("marker " + n + " in Redis")
          .atMost(timeout)
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(5))
          .failFast("the daemon exited", () -> !daemon.alive())
          .until(() -> redis.get().hget(KEY, "n"), cached -> reached(cached, n));
    } catch (ConditionTimeoutException | TerminalFailureException e) {
      throw new IllegalStateException(e.getMessage() + "; the daemon's log:\n" + daemon.tail(), e);
    }
    return System.nanoTime();
  }

  private static boolean reached(String cached, long n) {
    return cached != null && Long.parseLong(cached) >= n;
  }
}
