package io.cachesync.model;

import java.util.Map;
import java.util.Optional;

/** A row's columns in table order, as decoded from the WAL. */
public record Row(Map<String, ColumnValue> columns) {

  public static final Row EMPTY = new Row(Map.of());

  public Row {
    columns = FrozenColumns.of(columns);
  }

  public Optional<ColumnValue> get(String column) {
    return Optional.ofNullable(columns.get(column));
  }
}
