package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/** Looks at and drops the synchronizer's logical replication slot. */
public final class ReplicationSlots {
  private final PostgresConnector connector;

  public ReplicationSlots(PostgresConnector connector) {
    this.connector = connector;
  }

  /**
   * A slot's state: whether a process streams from it, and which; and the position up to which its
   * consumer confirmed the changes (0 when none yet).
   */
  public record Slot(
      String name, boolean active, Optional<Integer> activePid, long confirmedFlushLsn) {}

  public Optional<Slot> find(String name) throws ServerUnreachableException, SQLException {
    try (Connection connection = connector.openForShortStatements("slot check");
        PreparedStatement statement =
            connection.prepareStatement(
                "SELECT active, active_pid,"
                    + " coalesce((confirmed_flush_lsn - '0/0'::pg_lsn)::bigint, 0)"
                    + " FROM pg_replication_slots WHERE slot_name = ?")) {
      statement.setString(1, name);
      try (ResultSet row = statement.executeQuery()) {
        if (!row.next()) {
          return Optional.empty();
        }
        int pid = row.getInt(2);
        Optional<Integer> activePid = row.wasNull() ? Optional.empty() : Optional.of(pid);
        return Optional.of(new Slot(name, row.getBoolean(1), activePid, row.getLong(3)));
      }
    }
  }

  /**
   * What {@code cachesync status} shows of a slot: its state, the positions PostgreSQL keeps for
   * it, and the WAL it holds back.
   *
   * @param restartLsn the oldest WAL position the slot's consumer may still need; empty when the
   *     slot lost its WAL (wal_status {@code lost})
   * @param walStatus PostgreSQL's {@code wal_status}: reserved, extended, unreserved or lost
   * @param retainedWalBytes the WAL written since {@code restartLsn}, kept for the slot
   */
  public record SlotRetention(
      Slot slot,
      Optional<Long> restartLsn,
      Optional<String> walStatus,
      Optional<Long> retainedWalBytes) {}

  /**
   * The server's current WAL position ({@code pg_current_wal_lsn()}) and, if the slot exists, its
   * retention: one statement, so both are read at the same moment.
   */
  public record WalView(long currentLsn, Optional<SlotRetention> slot) {}

  public WalView view(String name) throws ServerUnreachableException, SQLException {
    try (Connection connection = connector.openForShortStatements("status")) {
      return view(connection, name);
    }
  }

  /**
   * As {@link #view(String)}, on a connection the caller holds open (the daemon's slot monitor).
   */
  public static WalView view(Connection connection, String name) throws SQLException {
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, s.slot_name, s.active,"
                + " s.active_pid,"
                + " coalesce((s.confirmed_flush_lsn - '0/0'::pg_lsn)::bigint, 0),"
                + " (s.restart_lsn - '0/0'::pg_lsn)::bigint, s.wal_status,"
                + " pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint"
                + " FROM (SELECT 1) AS one"
                + " LEFT JOIN pg_replication_slots s ON s.slot_name = ?")) {
      statement.setString(1, name);
      try (ResultSet row = statement.executeQuery()) {
        row.next();
        long current = row.getLong(1);
        if (row.getString(2) == null) {
          return new WalView(current, Optional.empty());
        }
        int pid = row.getInt(4);
        Optional<Integer> activePid = row.wasNull() ? Optional.empty() : Optional.of(pid);
        Slot slot = new Slot(name, row.getBoolean(3), activePid, row.getLong(5));
        return new WalView(
            current,
            Optional.of(
                new SlotRetention(
                    slot,
                    Optional.ofNullable(row.getObject(6, Long.class)),
                    Optional.ofNullable(row.getString(7)),
                    Optional.ofNullable(row.getObject(8, Long.class)))));
      }
    }
  }

  public void drop(String name) throws ServerUnreachableException, SQLException {
    try (Connection connection = connector.openForShortStatements("slot drop");
        PreparedStatement statement =
            connection.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
      statement.setString(1, name);
      statement.execute();
    }
  }
}
