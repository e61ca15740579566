package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.model.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the synchronizer's publication holding the mapped tables. cachesync manages it itself
 * (Debezium's read-only mode, which incremental snapshots without a signal table need, does not
 * alter publications): created with every operation published, extended when a table is mapped.
 * Tables no longer mapped are left in it; Debezium filters them out.
 */
public final class Publications {
  private static final Logger LOG = LoggerFactory.getLogger(Publications.class);

  /** What a publication of cachesync's publishes: every operation, TRUNCATE included. */
  public static final String OPTIONS = "WITH (publish = 'insert, update, delete, truncate')";

  private final PostgresConnector connector;

  public Publications(PostgresConnector connector) {
    this.connector = connector;
  }

  /**
   * Creates or extends the publication. Another daemon of the same name may do the same at the same
   * time (a standby starting while the holder starts): a create or an extension that loses that
   * race is looked at again rather than failed.
   */
  public void ensure(String publication, Collection<TableId> tables)
      throws ServerUnreachableException, SQLException {
    try {
      ensureOnce(publication, tables);
    } catch (SQLException e) {
      if (!createdConcurrently(e)) {
        throw e;
      }
      LOG.info(
          "Another process created or extended publication {} meanwhile ({}); looking again",
          publication,
          e.getMessage());
      ensureOnce(publication, tables);
    }
  }

  /**
   * unique_violation on pg_publication_pubname_index (two CREATE PUBLICATION at once), or
   * duplicate_object (the publication, or the table in it, exists already).
   */
  private static boolean createdConcurrently(SQLException e) {
    return "23505".equals(e.getSQLState()) || "42710".equals(e.getSQLState());
  }

  private void ensureOnce(String publication, Collection<TableId> tables)
      throws ServerUnreachableException, SQLException {
    try (Connection connection = connector.openForShortStatements("publication")) {
      Set<String> published = published(connection, publication);
      String all = tables.stream().map(Publications::quoted).collect(Collectors.joining(", "));
      try (Statement statement = connection.createStatement()) {
        if (published == null) {
          String sql = "CREATE PUBLICATION " + publication + " FOR TABLE " + all + " " + OPTIONS;
          LOG.info("Creating the publication: {}", sql);
          statement.execute(sql);
          return;
        }
        List<TableId> missing =
            tables.stream().filter(t -> !published.contains(t.toString())).toList();
        if (!missing.isEmpty()) {
          String sql =
              "ALTER PUBLICATION "
                  + publication
                  + " ADD TABLE "
                  + missing.stream().map(Publications::quoted).collect(Collectors.joining(", "));
          LOG.info("Extending the publication: {}", sql);
          statement.execute(sql);
        }
      }
    }
  }

  /** The tables in the publication, or null when it does not exist. */
  private static Set<String> published(Connection connection, String publication)
      throws SQLException {
    try (PreparedStatement exists =
        connection.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
      exists.setString(1, publication);
      try (ResultSet row = exists.executeQuery()) {
        if (!row.next()) {
          return null;
        }
      }
    }
    Set<String> tables = new LinkedHashSet<>();
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = ?")) {
      statement.setString(1, publication);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          tables.add(rows.getString(1));
        }
      }
    }
    return tables;
  }

  private static String quoted(TableId table) {
    return SqlIdentifier.quoted(table);
  }
}
