package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

/**
 * The daemon's replication slot, created with an exported snapshot: the state of the database at
 * the slot's consistent point, which other connections adopt with {@code SET TRANSACTION SNAPSHOT}
 * to read the mapped tables in parallel while the slot keeps every change committed after it.
 * Loading those rows and then streaming from the slot leaves no gap and no overlap: a transaction
 * is either in the snapshot or streamed from the slot, never both, never neither.
 *
 * <p>The snapshot lives only while the connection that created the slot stays open and runs no
 * other command, so this object holds that connection until {@link #close()}; every reader must
 * have imported the snapshot before then. Debezium later streams from the slot (its {@code
 * snapshot.mode} is {@code no_data}), from the consistent point, since nothing confirmed past it.
 */
public final class ExportedSnapshot implements AutoCloseable {
  private final Connection replication;
  private final String name;
  private final long consistentPoint;

  private ExportedSnapshot(Connection replication, String name, long consistentPoint) {
    this.replication = replication;
    this.name = name;
    this.consistentPoint = consistentPoint;
  }

  /**
   * Creates the logical replication slot {@code slotName} (pgoutput) and exports its snapshot.
   *
   * @throws SQLException when the slot exists already, or the role lacks REPLICATION
   */
  public static ExportedSnapshot createSlot(PostgresConnector postgres, String slotName)
      throws ServerUnreachableException, SQLException {
    // A replication connection takes replication commands through the simple query protocol;
    // pgjdbc asks for one only when told the server is 9.4 or later.
    Connection connection =
        postgres.open(
            "initial load",
            Map.of(
                "replication",
                "database",
                "preferQueryMode",
                "simple",
                "assumeMinServerVersion",
                "9.4"));
    try (Statement statement = connection.createStatement()) {
      // The syntax every supported PostgreSQL (10 and later) takes; 15 also has (SNAPSHOT
      // 'export'). Slot names are [a-z0-9_] (the configuration checks), so quoting is plain.
      try (ResultSet created =
          statement.executeQuery(
              "CREATE_REPLICATION_SLOT \"" + slotName + "\" LOGICAL pgoutput EXPORT_SNAPSHOT")) {
        if (!created.next()) {
          throw new SQLException("CREATE_REPLICATION_SLOT returned no row");
        }
        String consistentPoint = created.getString("consistent_point");
        String snapshot = created.getString("snapshot_name");
        if (snapshot == null) {
          throw new SQLException("CREATE_REPLICATION_SLOT exported no snapshot");
        }
        return new ExportedSnapshot(connection, snapshot, lsn(consistentPoint));
      }
    } catch (SQLException | RuntimeException e) {
      try {
        connection.close();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** An LSN's text {@code X/Y} as a number. */
  static long lsn(String text) {
    int slash = text.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("not an LSN: " + text);
    }
    return (Long.parseLong(text.substring(0, slash), 16) << 32)
        | Long.parseLong(text.substring(slash + 1), 16);
  }

  /** The snapshot's name, for {@code SET TRANSACTION SNAPSHOT}. */
  public String name() {
    return name;
  }

  /** The slot's consistent point: the snapshot holds every transaction committed before it. */
  public long consistentPoint() {
    return consistentPoint;
  }

  /**
   * Makes {@code connection} read in this snapshot: it starts a read-only repeatable-read
   * transaction (autocommit is turned off), which the caller ends.
   */
  public void adopt(Connection connection) throws SQLException {
    connection.setAutoCommit(false);
    try (Statement statement = connection.createStatement()) {
      statement.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      // The name is PostgreSQL's own (hex digits and dashes); quoted as a literal all the same.
      statement.execute("SET TRANSACTION SNAPSHOT '" + name.replace("'", "''") + "'");
    }
  }

  /** Ends the snapshot (not the slot, which stays for streaming). */
  @Override
  public void close() throws SQLException {
    replication.close();
  }
}
