package io.cachesync.bench.measure;

import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * Watches replication slots over one connection: when a consumer starts streaming from its slot
 * (the start of its catch-up), how far it confirmed, and when it let go of it.
 */
public final class SlotWatch implements AutoCloseable {
  private static final Duration POLL = Duration.ofMillis(5);

  private final Connection connection;
  private final PreparedStatement active;
  private final PreparedStatement confirmedPast;
  private final PreparedStatement drop;
  private final PreparedStatement exists;

  public SlotWatch(Connection connection) throws SQLException {
    this.connection = connection;
    this.active =
        connection.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?");
    this.confirmedPast =
        connection.prepareStatement(
            "SELECT confirmed_flush_lsn > ?::pg_lsn FROM pg_replication_slots WHERE slot_name = ?");
    this.drop =
        connection.prepareStatement(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                + " WHERE slot_name = ?");
    this.exists =
        connection.prepareStatement("SELECT 1 FROM pg_replication_slots WHERE slot_name = ?");
  }

  /**
   * Waits until {@code slot} exists (a consumer began creating it), checking every 5 ms, and
   * returns {@link System#nanoTime()} then.
   */
  public long awaitExists(String slot, Duration timeout, Callable<Boolean> consumerGone) {
    await("replication slot " + slot + " created")
        .atMost(timeout)
        .pollDelay(Duration.ZERO)
        .pollInterval(POLL)
        .failFast("the consumer of " + slot + " exited", consumerGone)
        .until(
            () -> {
              exists.setString(1, slot);
              try (ResultSet row = exists.executeQuery()) {
                return row.next();
              }
            });
    return System.nanoTime();
  }

  /**
   * Waits until a consumer streams from {@code slot}, checking every 5 ms, and returns {@link
   * System#nanoTime()} then.
   *
   * @param consumerGone true when the consumer exited, so that waiting is pointless
   */
  public long awaitActive(String slot, Duration timeout, Callable<Boolean> consumerGone) {
    await("a consumer streaming from replication slot " + slot)
        .atMost(timeout)
        .pollDelay(Duration.ZERO)
        .pollInterval(POLL)
        .failFast("the consumer of " + slot + " exited", consumerGone)
        .until(() -> isActive(slot));
    return System.nanoTime();
  }

  /**
   * Waits until the consumer of {@code slot} confirmed a position past {@code lsn}: it processed a
   * change written after that point, and (Debezium saves its offsets before it confirms) saved
   * offsets that say so.
   */
  public void awaitConfirmedPast(String slot, String lsn, Duration timeout) {
    await("replication slot " + slot + " confirmed past " + lsn)
        .atMost(timeout)
        .pollDelay(Duration.ZERO)
        .pollInterval(POLL)
        .until(() -> isConfirmedPast(slot, lsn));
  }

  /** Waits until nothing streams from {@code slot} any more. */
  public void awaitInactive(String slot, Duration timeout) {
    await("replication slot " + slot + " released")
        .atMost(timeout)
        .pollDelay(Duration.ZERO)
        .pollInterval(POLL)
        .until(() -> !isActive(slot));
  }

  /** Drops {@code slot} once nothing streams from it any more; nothing when it does not exist. */
  public void drop(String slot, Duration timeout) throws SQLException {
    awaitInactive(slot, timeout);
    drop.setString(1, slot);
    drop.execute();
  }

  private boolean isConfirmedPast(String slot, String lsn) throws SQLException {
    confirmedPast.setString(1, lsn);
    confirmedPast.setString(2, slot);
    try (ResultSet row = confirmedPast.executeQuery()) {
      return row.next() && row.getBoolean(1);
    }
  }

  private boolean isActive(String slot) throws SQLException {
    active.setString(1, slot);
    try (ResultSet row = active.executeQuery()) {
      return row.next() && row.getBoolean(1);
    }
  }

  @Override
  public void close() throws SQLException {
    active.close();
    confirmedPast.close();
    drop.close();
    exists.close();
    connection.close();
  }
}
