package io.cachesync.source;

import io.cachesync.model.TableId;

/**
 * PostgreSQL identifiers as SQL text: always double-quoted, so that upper case, a quote or a
 * reserved word is taken as written. A name with a character outside printable ASCII is written
 * with Unicode escapes ({@code U&"caf\00e9"}), so that the text survives a terminal or pipe whose
 * encoding is not UTF-8.
 */
public final class SqlIdentifier {
  private SqlIdentifier() {}

  /** {@code name} quoted: {@code "Order ""Lines"""}. */
  public static String quoted(String name) {
    boolean plain = name.chars().allMatch(c -> c >= 0x20 && c < 0x7f);
    if (plain) {
      return '"' + name.replace("\"", "\"\"") + '"';
    }
    StringBuilder text = new StringBuilder("U&\"");
    name.codePoints()
        .forEach(
            c -> {
              if (c == '"') {
                text.append("\"\"");
              } else if (c == '\\') {
                text.append("\\\\");
              } else if (c >= 0x20 && c < 0x7f) {
                text.appendCodePoint(c);
              } else if (c <= 0xffff) {
                text.append(String.format("\\%04x", c));
              } else {
                text.append(String.format("\\+%06x", c));
              }
            });
    return text.append('"').toString();
  }

  /** {@code "schema"."table"}. */
  public static String quoted(TableId table) {
    return quoted(table.schema()) + "." + quoted(table.table());
  }

  /**
   * Every column of the rows of {@code table} whose ctid lies in pages [from, to); {@code to < 0}
   * for no end. PostgreSQL 14 and later read such a range with a TID range scan.
   */
  public static String pageRangeQuery(TableId table, long from, long to) {
    String select = "SELECT * FROM " + quoted(table);
    if (from == 0 && to < 0) {
      return select;
    }
    String where = " WHERE ctid >= '(" + from + ",0)'::tid";
    return select + where + (to < 0 ? "" : " AND ctid < '(" + to + ",0)'::tid");
  }
}
