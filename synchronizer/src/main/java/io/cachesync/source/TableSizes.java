package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.model.TableId;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How many rows tables hold, as PostgreSQL's statistics estimate it ({@code pg_class.reltuples},
 * kept by ANALYZE and autovacuum): free to read at any size, unlike {@code count(*)}. For the
 * progress of a load.
 */
public final class TableSizes {
  private static final Logger LOG = LoggerFactory.getLogger(TableSizes.class);

  private TableSizes() {}

  /**
   * The estimated rows of each table; -1 for a table PostgreSQL has no estimate for yet (never
   * analyzed) or when PostgreSQL cannot be asked.
   */
  public static Map<TableId, Long> estimate(
      PostgresConnector connector, Collection<TableId> tables) {
    Map<TableId, Long> estimates = new HashMap<>();
    tables.forEach(table -> estimates.put(table, -1L));
    try (Connection connection = connector.openForShortStatements("table size estimate");
        PreparedStatement statement =
            connection.prepareStatement(
                "SELECT c.reltuples::bigint FROM pg_class c"
                    + " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE n.nspname = ? AND c.relname = ?")) {
      for (TableId table : tables) {
        statement.setString(1, table.schema());
        statement.setString(2, table.table());
        try (ResultSet row = statement.executeQuery()) {
          if (row.next()) {
            estimates.put(table, row.getLong(1));
          }
        }
      }
    } catch (ServerUnreachableException | SQLException | RuntimeException e) {
      LOG.warn(
          "Cannot estimate the rows to load: {}; the progress shows rows done only",
          e.getMessage());
    }
    return estimates;
  }
}
