package io.cachesync.model;

import static java.util.Objects.requireNonNull;

import java.util.regex.Pattern;

/**
 * A PostgreSQL table named by schema and table, as written in the mapping file: {@code
 * public.users}.
 */
public record TableId(String schema, String table) implements Comparable<TableId> {

  private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_$]*");

  public TableId {
    requireNonNull(schema, "schema");
    requireNonNull(table, "table");
    if (!IDENTIFIER.matcher(schema).matches() || !IDENTIFIER.matcher(table).matches()) {
      throw new IllegalArgumentException(
          "'" + schema + "." + table + "' is not a schema.table name");
    }
  }

  /**
   * Parses {@code schema.table}. Both parts are plain identifiers (letters, digits, {@code _} and
   * {@code $}), matched against PostgreSQL's catalog exactly as written.
   */
  public static TableId parse(String text) {
    requireNonNull(text, "text");
    int dot = text.indexOf('.');
    if (dot <= 0 || dot != text.lastIndexOf('.') || dot == text.length() - 1) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a schema.table name (write it as schema.table, e.g. public.users)");
    }
    String schema = text.substring(0, dot);
    String table = text.substring(dot + 1);
    if (!IDENTIFIER.matcher(schema).matches() || !IDENTIFIER.matcher(table).matches()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a schema.table name (each part is letters, digits, _ and $, not starting"
              + " with a digit)");
    }
    return new TableId(schema, table);
  }

  @Override
  public int compareTo(TableId other) {
    return toString().compareTo(other.toString());
  }

  @Override
  public String toString() {
    return schema + "." + table;
  }
}
