package io.cachesync.model;

import static java.util.Objects.requireNonNull;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * How one table is cached: the key of each row, the value's shape, what a change does, which
 * columns are kept and for how long.
 *
 * @param columns the mapped columns in order; empty means every column of the table
 */
public record TableMapping(
    TableId table,
    KeyTemplate key,
    ValueFormat format,
    SyncMode mode,
    List<String> columns,
    Optional<Ttl> ttl) {

  public static final ValueFormat DEFAULT_FORMAT = ValueFormat.HASH;
  public static final SyncMode DEFAULT_MODE = SyncMode.WRITE;

  public TableMapping {
    requireNonNull(table, "table");
    requireNonNull(key, "key");
    requireNonNull(format, "format");
    requireNonNull(mode, "mode");
    columns = List.copyOf(columns);
    requireNonNull(ttl, "ttl");
    Set<String> unique = new LinkedHashSet<>(columns);
    if (unique.size() != columns.size()) {
      throw new IllegalArgumentException("columns of " + table + " repeat a name: " + columns);
    }
    if (!columns.isEmpty() && !unique.containsAll(key.columns())) {
      throw new IllegalArgumentException(
          "key '" + key + "' of " + table + " uses columns missing from columns " + columns);
    }
  }

  /** Whether every column of the table is mapped. */
  public boolean allColumns() {
    return columns.isEmpty();
  }
}
