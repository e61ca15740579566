package io.cachesync.model;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The names of a table's columns in order, made once for a result or a record schema and shared by
 * every row read with them: a row then holds only its values, and finds a column by an index that
 * all its rows share, instead of building a map of its own.
 */
public final class ColumnNames {
  private final String[] names;
  private final Map<String, Integer> index;

  private ColumnNames(String[] names, Map<String, Integer> index) {
    this.names = names;
    this.index = index;
  }

  /** The names in order; empty when a name repeats (a row cannot hold two columns of one name). */
  public static Optional<ColumnNames> of(List<String> names) {
    Map<String, Integer> index = new HashMap<>(names.size() * 4 / 3 + 1);
    for (int i = 0; i < names.size(); i++) {
      if (index.putIfAbsent(names.get(i), i) != null) {
        return Optional.empty();
      }
    }
    return Optional.of(new ColumnNames(names.toArray(String[]::new), index));
  }

  public int size() {
    return names.length;
  }

  /**
   * A row of these columns.
   *
   * @param values one value per name, in the names' order (the row keeps the values, not the array)
   */
  public Row row(ColumnValue[] values) {
    if (values.length != names.length) {
      throw new IllegalArgumentException(
          values.length + " values for the " + names.length + " columns " + List.of(names));
    }
    return new Row(columns(values));
  }

  FrozenColumns columns(ColumnValue[] values) {
    return new FrozenColumns(names, index, values);
  }
}
