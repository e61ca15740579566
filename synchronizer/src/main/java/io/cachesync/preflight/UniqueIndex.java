package io.cachesync.preflight;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The primary key or a unique index of a table, read from {@code pg_index}, with what keeps it from
 * proving that its columns identify one row.
 *
 * @param columns the indexed columns, without INCLUDE columns and expressions
 * @param nullable the indexed columns that may be NULL (rows with NULLs do not collide)
 * @param expressions whether the index is over an expression, which no key column is
 */
record UniqueIndex(
    String name,
    boolean primaryKey,
    List<String> columns,
    List<String> nullable,
    boolean partial,
    boolean expressions,
    boolean deferrable,
    boolean valid) {

  UniqueIndex {
    columns = List.copyOf(columns);
    nullable = List.copyOf(nullable);
  }

  /** Reads the unique indexes of a table from the catalog: the primary key first, then by name. */
  static List<UniqueIndex> load(Connection connection, long table) throws SQLException {
    Map<String, UniqueIndex> indexes = new LinkedHashMap<>();
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT c.relname, i.indisprimary, i.indpred IS NOT NULL, i.indexprs IS NOT NULL,"
                + " NOT i.indimmediate, i.indisvalid, a.attname, a.attnotnull"
                + " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                + " LEFT JOIN LATERAL unnest(i.indkey[0:i.indnkeyatts - 1])"
                + "   WITH ORDINALITY AS k(attnum, position) ON true"
                + " LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                + " WHERE i.indrelid = ? AND i.indisunique"
                + " ORDER BY i.indisprimary DESC, c.relname, k.position")) {
      statement.setLong(1, table);
      try (ResultSet rows = statement.executeQuery()) {
        Map<String, Set<String>> columns = new LinkedHashMap<>();
        Map<String, Set<String>> nullable = new LinkedHashMap<>();
        while (rows.next()) {
          String name = rows.getString(1);
          indexes.putIfAbsent(
              name,
              new UniqueIndex(
                  name,
                  rows.getBoolean(2),
                  List.of(),
                  List.of(),
                  rows.getBoolean(3),
                  rows.getBoolean(4),
                  rows.getBoolean(5),
                  rows.getBoolean(6)));
          columns.computeIfAbsent(name, n -> new LinkedHashSet<>());
          nullable.computeIfAbsent(name, n -> new LinkedHashSet<>());
          String column = rows.getString(7);
          if (column != null) {
            columns.get(name).add(column);
            if (!rows.getBoolean(8)) {
              nullable.get(name).add(column);
            }
          }
        }
        List<UniqueIndex> result = new ArrayList<>();
        for (UniqueIndex index : indexes.values()) {
          result.add(
              new UniqueIndex(
                  index.name(),
                  index.primaryKey(),
                  List.copyOf(columns.get(index.name())),
                  List.copyOf(nullable.get(index.name())),
                  index.partial(),
                  index.expressions(),
                  index.deferrable(),
                  index.valid()));
        }
        return result;
      }
    }
  }

  /** Why this index does not prove that its columns identify one row; empty when it does. */
  Optional<String> doubt(String table) {
    List<String> reasons = new ArrayList<>();
    if (partial) {
      reasons.add("is partial (WHERE ...), so rows outside it may repeat its values");
    }
    if (expressions) {
      reasons.add("is over an expression, not only columns");
    }
    if (!nullable.isEmpty()) {
      reasons.add(
          "allows NULL in "
              + String.join(", ", nullable)
              + ", and a row with a NULL there would have no key"
              + " (run ALTER TABLE "
              + table
              + " ALTER COLUMN "
              + nullable.get(0)
              + " SET NOT NULL)");
    }
    if (deferrable) {
      reasons.add("is deferrable, so two rows may share its values inside a transaction");
    }
    if (!valid) {
      reasons.add("is not valid (a CREATE INDEX CONCURRENTLY that failed); rebuild it");
    }
    return reasons.isEmpty() ? Optional.empty() : Optional.of(String.join(" and ", reasons));
  }

  /** E.g. {@code primary key (tenant_id, id)} or {@code unique index users_email_key (email)}. */
  String describe() {
    return (primaryKey ? "primary key" : "unique index " + name)
        + " ("
        + String.join(", ", columns)
        + (expressions ? (columns.isEmpty() ? "" : ", ") + "an expression" : "")
        + ")";
  }
}
