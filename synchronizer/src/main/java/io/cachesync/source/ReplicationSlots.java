package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.metrics.ReplicationSlotUsage;
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
   * PostgreSQL's WAL position and, when the slot exists, what it keeps, on a connection the caller
   * holds open (the daemon reads it every few seconds).
   *
   * @return {@code pg_current_wal_lsn()}, the slot's restart_lsn and confirmed_flush_lsn (0 when
   *     there is no slot or they are not set yet), and whether it is active
   */
  public static ReplicationSlotUsage usage(Connection connection, String name) throws SQLException {
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint,"
                + " coalesce((s.restart_lsn - '0/0'::pg_lsn)::bigint, 0),"
                + " coalesce((s.confirmed_flush_lsn - '0/0'::pg_lsn)::bigint, 0),"
                + " coalesce(s.active, false)"
                + " FROM (SELECT 1) AS one"
                + " LEFT JOIN pg_replication_slots AS s ON s.slot_name = ?")) {
      statement.setString(1, name);
      try (ResultSet row = statement.executeQuery()) {
        row.next();
        return new ReplicationSlotUsage(
            row.getLong(1), row.getLong(2), row.getLong(3), row.getBoolean(4));
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
