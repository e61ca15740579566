package io.cachesync.job;

import io.cachesync.model.KeyRenderException;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.LettuceCacheInspector;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Finds the keys of a table's template whose row does not exist, a SCAN page at a time. A key under
 * the table's prefix that the template does not match ({@code KeyTemplate.match}) is an orphan when
 * it carries cachesync's version (a {@code __v} field in a hash, a {@code __v} member first in a
 * JSON string): cachesync wrote it under an earlier template, or for a value render now refuses.
 * Without one it is the application's (it may keep {@code user:42:session} next to {@code
 * user:{id}:profile}) and is left alone. A key the template matches is the table's whatever it
 * holds, in both modes: with or without a version (a cache-aside refill, a key written while the
 * table was in {@code mode: evict}), of any type. It is parsed back into its key columns and looked
 * up in PostgreSQL by them, cast to their types so that the lookup uses the table's index; its row
 * exists when a row found renders exactly that key.
 */
public final class OrphanSweeper {
  static final int PAGE = 1000;

  /**
   * How many orphans {@link #find} holds before it waits for the stream and hands them over: each
   * wait lasts until the stream applied a batch past the fence taken (see {@link
   * StreamFence#take}), and a key with its version is about 100 bytes.
   */
  static final int HELD = 20_000;

  private final Connection postgres;
  private final LettuceCacheInspector redis;

  public OrphanSweeper(Connection postgres, LettuceCacheInspector redis) {
    this.postgres = postgres;
    this.redis = redis;
  }

  /** What a sweep does with the orphans it found. */
  @FunctionalInterface
  public interface Orphans {
    /**
     * @param found each orphan key with the version it was seen at ('' when the value has none):
     *     the version a guarded eviction ({@link LettuceCacheInspector#evictBehindTheStream})
     *     deletes by
     * @param fence a WAL position the stream has applied (the stored position said so a moment
     *     ago), past the commit of whatever made their rows go: the eviction checks it again
     */
    void accept(Map<String, String> found, long fence);
  }

  /**
   * Hands the orphan keys found to {@code orphans}, up to {@link #HELD} at a time, each time once
   * the stream has applied every change committed before their rows were found missing ({@code
   * stream}): a change still in flight may need the key (see {@link StreamFence}), and deletes it
   * itself when its row is gone.
   *
   * @throws StreamFence.StreamBehindException when the stream did not get there in time
   */
  public void find(TableMapping table, StreamFence stream, Orphans orphans) {
    Map<String, String> held = new LinkedHashMap<>();
    sweep(
        table,
        Long.MAX_VALUE,
        true,
        found -> {
          held.putAll(found);
          if (held.size() >= HELD) {
            handOver(held, stream, orphans);
          }
        });
    if (!held.isEmpty()) {
      handOver(held, stream, orphans);
    }
  }

  /** Takes one fence for the held keys, after all their lookups, and hands them over past it. */
  private void handOver(Map<String, String> held, StreamFence stream, Orphans orphans) {
    long fence = fence();
    stream.awaitApplied(fence);
    orphans.accept(new LinkedHashMap<>(held), fence);
    held.clear();
  }

  /** A WAL position past the commit of every change the lookups so far have seen. */
  private long fence() {
    try {
      return StreamFence.take(postgres);
    } catch (SQLException e) {
      throw new IllegalStateException(
          "could not mark PostgreSQL's WAL position: " + e.getMessage(), e);
    }
  }

  /**
   * The same keys as {@link #find} finds, among the first {@code limit} keys the SCAN returns under
   * the table's prefix (the SCAN stops there), for a report (verify): nothing is deleted on what it
   * answers, so a key whose row was missing is not looked up again after its version was read.
   *
   * @return how many keys under the prefix were looked at
   */
  public long report(TableMapping table, long limit, Consumer<Map<String, String>> orphans) {
    return sweep(table, limit, false, orphans);
  }

  /**
   * Each page's keys are looked up in PostgreSQL; only the keys that may be orphans (no row, or not
   * a key of the template) are asked their version, which on a consistent cache is none.
   *
   * @param guarded look the keys without a row up once more after their version was read, so that a
   *     guarded eviction by that version never deletes what the stream wrote for a row inserted
   *     since (resync): the stream's write of a row committed after that second lookup carries a
   *     newer version, and one committed before it is seen by it
   */
  private long sweep(
      TableMapping table, long limit, boolean guarded, Consumer<Map<String, String>> orphans) {
    List<String> columns = List.copyOf(table.key().columns());
    Map<String, String> types = columnTypes(table, columns);
    long[] seen = {0};
    redis.scanWhile(
        table.key().prefixGlob(),
        PAGE,
        scanned -> {
          List<String> keys =
              scanned.size() > limit - seen[0]
                  ? scanned.subList(0, (int) (limit - seen[0]))
                  : scanned;
          seen[0] += keys.size();
          Map<String, String> found = page(table, columns, types, keys, guarded);
          if (!found.isEmpty()) {
            orphans.accept(found);
          }
          return seen[0] < limit;
        });
    return seen[0];
  }

  private Map<String, String> page(
      TableMapping table,
      List<String> columns,
      Map<String, String> types,
      List<String> keys,
      boolean guarded) {
    Map<String, Map<String, String>> candidates = new LinkedHashMap<>();
    for (String key : keys) {
      table.key().match(key).ifPresent(values -> candidates.put(key, values));
    }
    Set<String> existing = existing(table, columns, types, candidates);
    List<String> suspects =
        keys.stream()
            .filter(key -> !candidates.containsKey(key) || !existing.contains(key))
            .toList();
    Map<String, String> found = new LinkedHashMap<>();
    if (suspects.isEmpty()) {
      return found;
    }
    List<String> versions = redis.versions(suspects);
    Map<String, Map<String, String>> rowless = new LinkedHashMap<>();
    for (int i = 0; i < suspects.size(); i++) {
      String key = suspects.get(i);
      String version = versions.get(i);
      if (version.equals("-")) {
        continue; // gone since the SCAN
      }
      if (candidates.containsKey(key)) {
        found.put(key, version);
        rowless.put(key, candidates.get(key));
      } else if (!version.isEmpty()) {
        // Not a key of the template, but written by cachesync (it carries a version): a key of an
        // earlier template of the table, or one an older release wrote for a value render now
        // refuses. No row is cached under it any more. Without a version it is the application's.
        found.put(key, version);
      }
    }
    if (guarded) {
      found.keySet().removeAll(existing(table, columns, types, rowless));
    }
    return found;
  }

  /** The keys among {@code candidates} whose row exists. */
  private Set<String> existing(
      TableMapping table,
      List<String> columns,
      Map<String, String> types,
      Map<String, Map<String, String>> candidates) {
    return rows(table, columns, types, candidates, false).keySet();
  }

  /**
   * The rows cached under {@code keys}, read fresh, a batch at a time: for each key, the row its
   * key columns select when it renders exactly that key. A key that is not one of the table's, or
   * whose row does not exist, is absent from the answer.
   */
  Map<String, io.cachesync.model.Row> rows(TableMapping table, java.util.Collection<String> keys) {
    List<String> columns = List.copyOf(table.key().columns());
    Map<String, String> types = columnTypes(table, columns);
    Map<String, Map<String, String>> candidates = new LinkedHashMap<>();
    for (String key : keys) {
      table.key().match(key).ifPresent(values -> candidates.put(key, values));
    }
    return rows(table, columns, types, candidates, true);
  }

  /**
   * The rows among {@code candidates} that exist, by the key they render; with their key columns
   * only unless {@code wholeRows}.
   */
  private Map<String, io.cachesync.model.Row> rows(
      TableMapping table,
      List<String> columns,
      Map<String, String> types,
      Map<String, Map<String, String>> candidates,
      boolean wholeRows) {
    Map<String, io.cachesync.model.Row> existing = new HashMap<>();
    if (candidates.isEmpty()) {
      return existing;
    }
    try {
      existing.putAll(lookUp(table, columns, types, candidates, wholeRows));
    } catch (SQLException e) {
      // A value that is not of the column's type (a key no row can have) fails the whole batch:
      // look the keys up one by one.
      refusedValue(table, e);
      rollback();
      for (Map.Entry<String, Map<String, String>> candidate : candidates.entrySet()) {
        try {
          existing.putAll(
              lookUp(
                  table,
                  columns,
                  types,
                  Map.of(candidate.getKey(), candidate.getValue()),
                  wholeRows));
        } catch (SQLException notOfTheType) {
          refusedValue(table, notOfTheType);
          rollback();
        }
      }
    }
    return existing;
  }

  /**
   * Returns when PostgreSQL refused a key's value (a data exception, SQLSTATE class 22, or a
   * domain's CHECK, 23514): a key no row can have. Throws for any other failure (a timeout, a lost
   * connection, a revoked grant), which must not be taken for a missing row: the keys would be
   * evicted, or reported as orphans, while their rows exist.
   */
  private static void refusedValue(TableMapping table, SQLException e) {
    String state = e.getSQLState();
    if (state == null || !(state.startsWith("22") || state.equals("23514"))) {
      throw new IllegalStateException(
          "cannot look up the keys of " + table.table() + " in PostgreSQL: " + e.getMessage(), e);
    }
  }

  /**
   * One statement per batch, whatever its size: each key column's values are bound as one text
   * array, so that PostgreSQL parses and plans the same statement for every batch. A single key
   * column is matched with {@code = ANY}, which the B-tree index probes in sorted order; several
   * are joined to the arrays unnested side by side (a parameterized index scan per key). A list of
   * one {@code (?, ?)} tuple per key took twice as long to plan as to run.
   */
  private Map<String, io.cachesync.model.Row> lookUp(
      TableMapping table,
      List<String> columns,
      Map<String, String> types,
      Map<String, Map<String, String>> candidates,
      boolean wholeRows)
      throws SQLException {
    String select =
        wholeRows ? "t.*" : String.join(", ", columns.stream().map(c -> "t." + quote(c)).toList());
    String from = " FROM " + quote(table.table().schema()) + "." + quote(table.table().table());
    String sql;
    if (columns.size() == 1) {
      sql =
          "SELECT "
              + select
              + from
              + " t WHERE t."
              + quote(columns.get(0))
              + " = ANY("
              + arrayParameter(types.get(columns.get(0)))
              + ")";
    } else {
      List<String> aliases = new java.util.ArrayList<>();
      List<String> joins = new java.util.ArrayList<>();
      for (int i = 0; i < columns.size(); i++) {
        aliases.add("k" + i);
        joins.add(
            "t." + quote(columns.get(i)) + " = " + value("k.k" + i, types.get(columns.get(i))));
      }
      sql =
          "SELECT "
              + select
              + from
              + " t JOIN unnest("
              + String.join(", ", java.util.Collections.nCopies(columns.size(), "?::text[]"))
              + ") AS k("
              + String.join(", ", aliases)
              + ") ON "
              + String.join(" AND ", joins);
    }
    try (PreparedStatement statement = postgres.prepareStatement(sql)) {
      for (int i = 0; i < columns.size(); i++) {
        String column = columns.get(i);
        String type = types.get(column);
        Object[] values =
            candidates.values().stream().map(v -> postgresText(type, v.get(column))).toArray();
        statement.setArray(i + 1, postgres.createArrayOf("text", values));
      }
      Map<String, io.cachesync.model.Row> existing = new HashMap<>();
      try (ResultSet rows = statement.executeQuery()) {
        JdbcRowEncoder.Columns encoder = JdbcRowEncoder.columns(rows);
        while (rows.next()) {
          io.cachesync.model.Row row = encoder.encode(rows);
          renderedKey(table, row)
              .filter(candidates::containsKey)
              .ifPresent(key -> existing.put(key, row));
        }
      }
      return existing;
    }
  }

  /** A text array parameter of a key column's values, as an array of the column's type. */
  private static String arrayParameter(String type) {
    return type.equals("bytea")
        ? "ARRAY(SELECT decode(v, 'base64') FROM unnest(?::text[]) v)"
        : "?::text[]::" + type + "[]";
  }

  /**
   * A key column's value, from its text, as the lookup reads it: cast to the column's type, so that
   * the table's index is used. A bytea value is cached in base64, which a cast would read as escape
   * format. The preflight allows as key columns only types whose text in the key is one this reads
   * back (see PostgresPreflight's key types).
   */
  private static String value(String text, String type) {
    return type.equals("bytea") ? "decode(" + text + ", 'base64')" : text + "::" + type;
  }

  /** The key a row is cached under, rendered as every writer renders it; empty when it has none. */
  private static Optional<String> renderedKey(TableMapping table, io.cachesync.model.Row row) {
    try {
      return Optional.of(table.key().render(row));
    } catch (KeyRenderException unrenderable) {
      return Optional.empty();
    }
  }

  /**
   * A key column's value as PostgreSQL reads it, from its text in the key. Dates and timestamps are
   * cached with ISO-8601's years (README, value encoding), which PostgreSQL does not read before
   * year 1 or after 9999: {@code -0043-03-15} (44 BC) is given as {@code 0044-03-15 BC}, {@code
   * 0000-01-01} as {@code 0001-01-01 BC}, {@code +12345-06-07} as {@code 12345-06-07}.
   */
  static String postgresText(String type, String text) {
    boolean dated = type.equals("date") || type.startsWith("timestamp");
    if (!dated || text.isEmpty()) {
      return text;
    }
    if (text.charAt(0) == '+') {
      return text.substring(1);
    }
    boolean negative = text.charAt(0) == '-';
    int yearEnd = text.indexOf('-', 1);
    if (yearEnd < 0 || !(negative || text.startsWith("0000-"))) {
      return text;
    }
    try {
      long isoYear = Long.parseLong(text.substring(0, yearEnd));
      return String.format(java.util.Locale.ROOT, "%04d", 1 - isoYear)
          + text.substring(yearEnd)
          + " BC";
    } catch (NumberFormatException notAYear) {
      return text; // PostgreSQL refuses it: a key no row can have
    }
  }

  private Map<String, String> columnTypes(TableMapping table, List<String> columns) {
    Map<String, String> types = new LinkedHashMap<>();
    try (PreparedStatement statement =
        postgres.prepareStatement(
            // A domain over bytea is looked up as bytea, decoded from base64 like it.
            // A domain over a date or timestamp as its base type too, so that its values are
            // read from the key as the base type's (postgresText).
            "SELECT a.attname, CASE WHEN b.typname = 'bytea' THEN 'bytea'"
                + " WHEN b.typname IN ('date', 'timestamp', 'timestamptz')"
                + "   THEN format_type(b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod"
                + "     ELSE a.atttypmod END)"
                + " ELSE format_type(a.atttypid, a.atttypmod) END FROM pg_attribute a"
                + " JOIN pg_type t ON t.oid = a.atttypid"
                + " JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype"
                + "   ELSE t.oid END"
                + " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped")) {
      statement.setString(1, table.table().schema());
      statement.setString(2, table.table().table());
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          if (columns.contains(rows.getString(1))) {
            types.put(rows.getString(1), rows.getString(2));
          }
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(
          "cannot read the columns of " + table.table() + ": " + e.getMessage(), e);
    }
    return types;
  }

  private void rollback() {
    try {
      if (!postgres.getAutoCommit()) {
        postgres.rollback();
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  static String quote(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }
}
