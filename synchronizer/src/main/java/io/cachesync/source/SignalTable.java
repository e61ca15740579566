package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The table Debezium reads signals from, and writes its incremental snapshot watermarks to: {@code
 * cachesync.signal_<name>}, in a schema of cachesync's own. It is in the publication, so a row
 * inserted here reaches Debezium through the WAL, in order with the changes.
 */
public final class SignalTable {
  private static final Logger LOG = LoggerFactory.getLogger(SignalTable.class);
  public static final String SCHEMA = "cachesync";

  /** The table's columns, as {@code CREATE TABLE} takes them. */
  public static final String COLUMNS =
      "(id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(4096))";

  /**
   * What the login role needs on the table when it does not own it: cachesync inserts signals, and
   * Debezium inserts the watermarks of incremental snapshots (its default {@code insert_insert}
   * strategy); neither reads the table, which Debezium sees only in the WAL.
   */
  public static final String PRIVILEGES = "INSERT";

  private final PostgresConnector connector;
  private final String name;

  SignalTable(PostgresConnector connector, String name) {
    this.connector = connector;
    this.name = name;
  }

  /** {@code cachesync.signal_<name>}. */
  public static String name(SynchronizerSettings settings) {
    return id(settings).toString();
  }

  /** {@code cachesync.signal_<name>}, as a table id. */
  public static TableId id(SynchronizerSettings settings) {
    return new TableId(SCHEMA, "signal_" + settings.name());
  }

  /**
   * Creates the schema and the table when missing. Only what is missing: {@code CREATE ... IF NOT
   * EXISTS} checks the right to create first, so a role that may not (an administrator created
   * them, {@code cachesync grants --postgres}) would fail on objects that exist.
   */
  public static void ensure(PostgresConnector connector, SynchronizerSettings settings)
      throws ServerUnreachableException, SQLException {
    TableId table = id(settings);
    try (Connection connection = connector.openForShortStatements("signal table");
        Statement statement = connection.createStatement()) {
      if (!exists(connection, "SELECT 1 FROM pg_namespace WHERE nspname = ?", SCHEMA, null)) {
        statement.execute("CREATE SCHEMA IF NOT EXISTS " + SqlIdentifier.quoted(SCHEMA));
      }
      if (!exists(
          connection,
          "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
              + " WHERE n.nspname = ? AND c.relname = ?",
          table.schema(),
          table.table())) {
        statement.execute(
            "CREATE TABLE IF NOT EXISTS " + SqlIdentifier.quoted(table) + " " + COLUMNS);
      }
    }
  }

  private static boolean exists(Connection connection, String sql, String first, String second)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      statement.setString(1, first);
      if (second != null) {
        statement.setString(2, second);
      }
      try (ResultSet row = statement.executeQuery()) {
        return row.next();
      }
    }
  }

  /** Sends a signal: inserts it, so that it travels in the WAL. */
  void send(String id, String type, String data) {
    try (Connection connection = connector.openForShortStatements("signal");
        PreparedStatement statement =
            connection.prepareStatement(
                "INSERT INTO " + name + " (id, type, data) VALUES (?, ?, ?)")) {
      statement.setString(1, id);
      statement.setString(2, type);
      statement.setString(3, data);
      statement.execute();
    } catch (ServerUnreachableException | SQLException e) {
      LOG.error("Could not send signal {} through {}: {}", type, name, e.getMessage());
      throw new IllegalStateException(
          "could not send signal " + type + " through " + name + ": " + e.getMessage(), e);
    }
  }
}
