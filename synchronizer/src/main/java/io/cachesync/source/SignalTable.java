package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.SynchronizerSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
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

  private final PostgresConnector connector;
  private final String name;

  SignalTable(PostgresConnector connector, String name) {
    this.connector = connector;
    this.name = name;
  }

  /** {@code cachesync.signal_<name>}. */
  public static String name(SynchronizerSettings settings) {
    return SCHEMA + ".signal_" + settings.name();
  }

  /** Creates the schema and the table when missing. */
  public static void ensure(PostgresConnector connector, SynchronizerSettings settings)
      throws ServerUnreachableException, SQLException {
    try (Connection connection = connector.openForShortStatements("signal table");
        Statement statement = connection.createStatement()) {
      statement.execute("CREATE SCHEMA IF NOT EXISTS " + SCHEMA);
      statement.execute(
          "CREATE TABLE IF NOT EXISTS "
              + name(settings)
              + " (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(4096))");
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
