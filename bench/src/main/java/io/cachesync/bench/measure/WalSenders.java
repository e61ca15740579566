package io.cachesync.bench.measure;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The WAL senders that stream each tracked replication slot to its consumer, found every {@value
 * #POLL_MILLIS} ms over a connection of their own (the slot's {@code active_pid}, a backend of type
 * {@code walsender}), each watched on the {@link CpuTimeline} from the moment it is found. A slot
 * may be served by several in turn: Debezium resuming from a stored offset streams, finds its
 * position, and reconnects.
 */
public final class WalSenders implements AutoCloseable {
  static final long POLL_MILLIS = 50;

  private final Connection connection;
  private final PreparedStatement active;
  private final CpuTimeline cpu;
  private final Map<String, List<Long>> pids = new ConcurrentHashMap<>();
  private final Set<String> tracked = ConcurrentHashMap.newKeySet();
  private final Thread poller;
  private volatile boolean closed;

  public WalSenders(Connection connection, CpuTimeline cpu) throws SQLException {
    this.connection = connection;
    this.cpu = cpu;
    this.active =
        connection.prepareStatement(
            "SELECT s.slot_name, s.active_pid FROM pg_replication_slots s"
                + " JOIN pg_stat_activity a ON a.pid = s.active_pid"
                + " WHERE a.backend_type = 'walsender' AND s.slot_name = ANY(?)");
    this.poller = new Thread(this::poll, "bench-wal-senders");
    this.poller.setDaemon(true);
    this.poller.start();
  }

  /** Looks for the WAL senders of {@code slot} from now on (and once at once). */
  public void track(String slot) throws SQLException {
    tracked.add(slot);
    pids.computeIfAbsent(slot, s -> new CopyOnWriteArrayList<>());
    find();
  }

  /** Stops looking for {@code slot}'s WAL senders; what they used stays readable. */
  public void untrack(String slot) {
    tracked.remove(slot);
  }

  /** The WAL senders found for {@code slot} so far. */
  public List<Long> pids(String slot) {
    return List.copyOf(pids.getOrDefault(slot, List.of()));
  }

  /**
   * The CPU time {@code slot}'s WAL senders used from {@code from} to {@code to} ({@link
   * System#nanoTime()}), all of them together; empty when none was found.
   */
  public Optional<Duration> between(String slot, long from, long to) {
    Optional<Duration> sum = Optional.empty();
    for (long pid : pids(slot)) {
      Optional<Duration> used = cpu.between(pid, from, to);
      if (used.isPresent()) {
        sum = Optional.of(sum.orElse(Duration.ZERO).plus(used.get()));
      }
    }
    return sum;
  }

  private void poll() {
    while (!closed) {
      try {
        if (!tracked.isEmpty()) {
          find();
        }
      } catch (SQLException e) {
        if (closed) {
          return;
        }
      }
      LockSupport.parkNanos(POLL_MILLIS * 1_000_000);
    }
  }

  private synchronized void find() throws SQLException {
    Array slots = connection.createArrayOf("text", tracked.toArray());
    try {
      active.setArray(1, slots);
      try (ResultSet rows = active.executeQuery()) {
        while (rows.next()) {
          List<Long> known = pids.get(rows.getString(1));
          long pid = rows.getLong(2);
          if (known != null && !known.contains(pid)) {
            cpu.watch(pid);
            known.add(pid);
          }
        }
      }
    } finally {
      slots.free();
    }
  }

  @Override
  public void close() throws SQLException {
    closed = true;
    poller.interrupt();
    synchronized (this) {
      active.close();
      connection.close();
    }
  }
}
