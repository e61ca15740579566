package io.cachesync.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The README's read-your-writes fence, as an application would copy it: after COMMIT, {@link #take}
 * a fence in PostgreSQL, then {@link #await} it, and Redis holds that commit's changes (or newer
 * ones). One instance per process: it keeps one subscription to {@code cachesync:<name>:applied}
 * and one connection for reads.
 */
public final class CacheFence implements AutoCloseable {
  /**
   * A logical decoding message written in its own transaction, after the commit: its LSN, as 16 hex
   * digits. cachesync receives the message itself, so the fence is reached within one batch.
   */
  public static final String FENCE_SQL =
      "SELECT lpad(to_hex((pg_logical_emit_message(true, 'cachesync_fence', '')"
          + " - '0/0'::pg_lsn)::bigint), 16, '0')";

  /**
   * The current WAL position: no WAL written, but on an idle database reached only with the next
   * heartbeat (up to 10 s).
   */
  public static final String CURRENT_LSN_SQL =
      "SELECT lpad(to_hex((pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint), 16, '0')";

  private final StatefulRedisConnection<String, String> redis;
  private final StatefulRedisPubSubConnection<String, String> updates;
  private final String positionKey;
  private final Object lock = new Object();
  private String applied = ""; // the highest applied bound seen; "" sorts below any

  public CacheFence(RedisClient client, String synchronizerName) {
    this.positionKey = "cachesync:" + synchronizerName + ":position";
    this.redis = client.connect();
    this.updates = client.connectPubSub();
    updates.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            advance(message);
          }
        });
    updates.sync().subscribe("cachesync:" + synchronizerName + ":applied");
  }

  /**
   * A fence past everything {@code postgres} committed: call it after COMMIT, outside any
   * transaction (autocommit), since a fence taken inside one could be reached before the rest of
   * it.
   */
  public static String take(Connection postgres) throws SQLException {
    return query(postgres, FENCE_SQL);
  }

  /** Runs {@code sql}, one row of one column, and returns its value. */
  public static String query(Connection postgres, String sql) throws SQLException {
    try (Statement statement = postgres.createStatement();
        ResultSet row = statement.executeQuery(sql)) {
      row.next();
      return row.getString(1);
    }
  }

  /**
   * Waits until Redis holds every transaction committed before {@code fence}; false when {@code
   * timeout} passed first (then read PostgreSQL instead).
   */
  public boolean await(String fence, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    if (reached(fence)) {
      return true;
    }
    // Read after subscribing: a bound published before the subscription is not missed.
    advance(redis.sync().hget(positionKey, "applied"));
    synchronized (lock) {
      while (!reached(fence)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(lock, left);
      }
      return true;
    }
  }

  /**
   * The same wait without a subscription: one HGET per {@code pace}. A sketch for scripts; {@link
   * #await} answers sooner and reads Redis once.
   */
  public static boolean poll(
      StatefulRedisConnection<String, String> redis,
      String synchronizerName,
      String fence,
      Duration timeout,
      Duration pace)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String key = "cachesync:" + synchronizerName + ":position";
    while (true) {
      String applied = redis.sync().hget(key, "applied");
      if (applied != null && applied.compareTo(fence) >= 0) {
        return true;
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(pace.toMillis()); // the polling pace, not a synchronisation
    }
  }

  private boolean reached(String fence) {
    synchronized (lock) {
      return applied.compareTo(fence) >= 0;
    }
  }

  private void advance(String bound) {
    if (bound == null) {
      return;
    }
    synchronized (lock) {
      if (bound.compareTo(applied) > 0) {
        applied = bound;
        lock.notifyAll();
      }
    }
  }

  @Override
  public void close() {
    updates.close();
    redis.close();
  }
}
