package io.cachesync.bench.measure;

import io.cachesync.bench.workload.LagOperation;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Measures commit-to-Redis lag with an open-loop writer: change {@code i} is scheduled at {@code
 * start + i / rate} whatever happened to the changes before it (several connections take the
 * changes in turn, so a slow commit does not hold the schedule back). A Redis keyspace-notification
 * subscriber records when each key was written or evicted. Lag is that moment minus the commit time
 * PostgreSQL wrote in the WAL's commit record ({@code pg_xact_commit_timestamp}, which needs {@code
 * track_commit_timestamp=on}), both on the machine's wall clock, in an HdrHistogram.
 *
 * <p>Redis publishes the notification while it executes the write, in the same event-loop turn that
 * acknowledges the daemon's {@code EXEC}, so the lag runs to Redis's acknowledgement, plus one
 * loopback hop to this JVM.
 */
public final class LagProbe {
  private static final int WRITERS = 4;
  private static final Duration SETTLE = Duration.ofSeconds(30);

  /** Opens a connection to the workload's database. */
  public interface Connections {
    Connection open() throws SQLException;
  }

  private final RedisClient redis;
  private final Connections connections;
  private final Clock clock;

  public LagProbe(RedisClient redis, Connections connections, Clock clock) {
    this.redis = redis;
    this.connections = connections;
    this.clock = clock;
  }

  /**
   * Offers {@code rate} row changes per second for {@code duration}: runs of the operation at
   * {@code rate / changesPerRun} per second.
   */
  public LagResult measure(LagOperation operation, int rate, Duration duration)
      throws InterruptedException, SQLException {
    double runsPerSecond = (double) rate / operation.changesPerRun();
    long total = Math.min(operation.capacity(), Math.round(runsPerSecond * duration.toSeconds()));
    Notifications notifications = new Notifications(operation.event());
    String channelPrefix = "__keyspace@0__:";
    try (StatefulRedisConnection<String, String> admin = redis.connect();
        StatefulRedisPubSubConnection<String, String> subscriber = redis.connectPubSub()) {
      admin.sync().configSet("notify-keyspace-events", "Kgh");
      try {
        subscriber.addListener(
            new RedisPubSubAdapter<>() {
              @Override
              public void message(String pattern, String channel, String event) {
                notifications.add(
                    channel.substring(channelPrefix.length()), event, micros(clock.instant()));
              }
            });
        subscriber.sync().psubscribe(channelPrefix + operation.keyPrefix() + "*");
        return offer(operation, rate, runsPerSecond, total, notifications);
      } finally {
        admin.sync().configSet("notify-keyspace-events", "");
      }
    }
  }

  private LagResult offer(
      LagOperation operation,
      int rate,
      double runsPerSecond,
      long total,
      Notifications notifications)
      throws InterruptedException, SQLException {
    Writes writes = write(operation, runsPerSecond, total);
    notifications.awaitCount(writes.changes().size(), SETTLE);
    Lags lags;
    try (Connection connection = connections.open()) {
      lags = notifications.pair(commitsByKey(connection, writes.changes()));
    }
    return new LagResult(
        rate, writes.achieved(), lags.micros(), lags.missing(), writes.maxBehindMillis());
  }

  /**
   * Offers {@code rate} row changes per second for {@code duration} as {@link #measure} does, but
   * watches nothing: for a consumer that measures the lag itself (Debezium alone). Returns the rate
   * achieved.
   */
  public double offerOnly(LagOperation operation, int rate, Duration duration)
      throws InterruptedException, SQLException {
    double runsPerSecond = (double) rate / operation.changesPerRun();
    long total = Math.min(operation.capacity(), Math.round(runsPerSecond * duration.toSeconds()));
    return write(operation, runsPerSecond, total).achieved();
  }

  /**
   * What the writers did.
   *
   * @param achieved row changes per second, from the first scheduled start to the last commit
   * @param maxBehindMillis how late a change started compared with its schedule, at worst
   */
  private record Writes(
      List<LagOperation.Change> changes, double achieved, double maxBehindMillis) {}

  private Writes write(LagOperation operation, double runsPerSecond, long total)
      throws InterruptedException, SQLException {
    List<Connection> open = new ArrayList<>();
    ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
    try {
      for (int i = 0; i < WRITERS; i++) {
        Connection connection = connections.open();
        connection.setAutoCommit(true);
        open.add(connection);
      }
      ConcurrentLinkedQueue<LagOperation.Change> changes = new ConcurrentLinkedQueue<>();
      AtomicLong next = new AtomicLong();
      AtomicLong lastCommit = new AtomicLong();
      AtomicLong maxBehind = new AtomicLong();
      double periodNanos = 1e9 / runsPerSecond;
      long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
      List<Future<?>> running = new ArrayList<>();
      for (Connection connection : open) {
        running.add(
            writers.submit(
                () -> {
                  for (long i = next.getAndIncrement(); i < total; i = next.getAndIncrement()) {
                    long scheduled = start + Math.round(i * periodNanos);
                    long wait = scheduled - System.nanoTime();
                    if (wait > 0) {
                      LockSupport.parkNanos(wait);
                    }
                    maxBehind.accumulateAndGet(System.nanoTime() - scheduled, Math::max);
                    changes.add(operation.run(connection, i));
                    lastCommit.accumulateAndGet(System.nanoTime(), Math::max);
                  }
                  return null;
                }));
      }
      for (Future<?> writer : running) {
        writer.get();
      }
      double achieved = total * operation.changesPerRun() / ((lastCommit.get() - start) / 1e9);
      return new Writes(List.copyOf(changes), achieved, maxBehind.get() / 1e6);
    } catch (ExecutionException e) {
      throw new IllegalStateException("the lag writer failed: " + e.getCause().getMessage(), e);
    } finally {
      writers.shutdownNow();
      for (Connection connection : open) {
        connection.close();
      }
    }
  }

  /**
   * The commit times of the changes' transactions, from the WAL's commit records, in microseconds
   * since the epoch, per key in commit order.
   */
  private static Map<String, List<Long>> commitsByKey(
      Connection connection, Collection<LagOperation.Change> changes) throws SQLException {
    Map<Long, Long> committed = new HashMap<>();
    Array transactions =
        connection.createArrayOf(
            "bigint", changes.stream().map(LagOperation.Change::transaction).toArray());
    try (PreparedStatement query =
        connection.prepareStatement(
            "SELECT t, (extract(epoch FROM pg_xact_commit_timestamp(t::text::xid8::xid))"
                + " * 1000000)::bigint FROM unnest(?::bigint[]) AS t")) {
      query.setArray(1, transactions);
      try (ResultSet rows = query.executeQuery()) {
        while (rows.next()) {
          committed.put(rows.getLong(1), rows.getLong(2));
        }
      }
    } finally {
      transactions.free();
    }
    Map<String, List<Long>> byKey = new HashMap<>();
    for (LagOperation.Change change : changes) {
      Long micros = committed.get(change.transaction());
      if (micros == null || micros == 0) {
        throw new IllegalStateException(
            "PostgreSQL has no commit time for transaction " + change.transaction());
      }
      byKey.computeIfAbsent(change.key(), key -> new ArrayList<>()).add(micros);
    }
    byKey.values().forEach(times -> times.sort(Comparator.naturalOrder()));
    return byKey;
  }

  static long micros(Instant instant) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, instant);
  }

  /**
   * The lags of one measurement.
   *
   * @param micros one value per change, in microseconds
   * @param missing changes whose notification never came
   */
  record Lags(Histogram micros, long missing) {}

  /**
   * Redis's notifications of one event (e.g. {@code hset}) per key, in the order they arrived, in
   * microseconds since the epoch.
   */
  static final class Notifications {
    private final String event;
    private final Map<String, List<Long>> byKey = new HashMap<>();
    private long count;

    Notifications(String event) {
      this.event = event;
    }

    synchronized void add(String key, String kind, long micros) {
      if (event.equals(kind)) {
        byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(micros);
        count++;
        notifyAll();
      }
    }

    /** Waits until {@code expected} notifications came, or the timeout passed. */
    synchronized void awaitCount(long expected, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (count < expected) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return;
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
    }

    /**
     * Pairs each key's commits, in commit order, with its notifications, in arrival order (Redis
     * applies one key's changes in the WAL's order): the lag of each change is its notification
     * minus its commit. A commit left without a notification is missing.
     */
    synchronized Lags pair(Map<String, List<Long>> commitsByKey) {
      Histogram lags = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);
      long missing = 0;
      for (Map.Entry<String, List<Long>> key : commitsByKey.entrySet()) {
        List<Long> commits = key.getValue();
        List<Long> notified = byKey.getOrDefault(key.getKey(), List.of());
        for (int i = 0; i < commits.size(); i++) {
          if (i < notified.size()) {
            long micros = Math.max(0, notified.get(i) - commits.get(i));
            lags.recordValue(Math.min(micros, lags.getHighestTrackableValue()));
          } else {
            missing++;
          }
        }
      }
      return new Lags(lags, missing);
    }
  }
}
