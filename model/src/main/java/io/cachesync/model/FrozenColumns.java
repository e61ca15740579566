package io.cachesync.model;

import java.util.AbstractMap;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A row's columns by name, in order, that nobody can change: copied once when a {@link Row} is
 * made, and then shared, not copied again, by the {@link CacheOperation.Write} that caches the row
 * whole (a wide row's columns were copied three times per change before).
 */
final class FrozenColumns extends AbstractMap<String, ColumnValue> {
  private final Map<String, ColumnValue> columns;

  private FrozenColumns(Map<String, ColumnValue> copy) {
    this.columns = Collections.unmodifiableMap(copy);
  }

  /** {@code columns} itself when it is frozen already, else a frozen copy in the same order. */
  static Map<String, ColumnValue> of(Map<String, ColumnValue> columns) {
    if (columns instanceof FrozenColumns frozen) {
      return frozen;
    }
    return new FrozenColumns(new LinkedHashMap<>(columns));
  }

  @Override
  public Set<Entry<String, ColumnValue>> entrySet() {
    return columns.entrySet();
  }

  @Override
  public ColumnValue get(Object key) {
    return columns.get(key);
  }

  @Override
  public boolean containsKey(Object key) {
    return columns.containsKey(key);
  }

  @Override
  public int size() {
    return columns.size();
  }
}
