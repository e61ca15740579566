package io.cachesync.model;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.BiConsumer;

/**
 * A row's columns by name, in order, that nobody can change: its columns in an array, found by name
 * through the index that every row of the same {@link ColumnNames} shares. Each column is held as
 * the entry its iteration hands out, so that iterating allocates nothing. Made once when a {@link
 * Row} is made, and then shared, not copied again, by the {@link CacheOperation.Write} that caches
 * the row whole (a wide row's columns were copied three times per change before, and each row built
 * a map of its own).
 */
final class FrozenColumns extends AbstractMap<String, ColumnValue> {
  private final Map<String, Integer> index;
  private final Entry<String, ColumnValue>[] columns;
  private Set<Entry<String, ColumnValue>> entries;

  @SuppressWarnings("unchecked")
  FrozenColumns(String[] names, Map<String, Integer> index, ColumnValue[] values) {
    this.index = index;
    this.columns = new Entry[values.length];
    for (int i = 0; i < values.length; i++) {
      columns[i] = new SimpleImmutableEntry<>(names[i], values[i]);
    }
  }

  /** {@code columns} itself when it is frozen already, else a frozen copy in the same order. */
  static Map<String, ColumnValue> of(Map<String, ColumnValue> columns) {
    if (columns instanceof FrozenColumns frozen) {
      return frozen;
    }
    // A map's keys never repeat, so they always have a shared form.
    return ColumnNames.of(new ArrayList<>(columns.keySet()))
        .orElseThrow()
        .columns(columns.values().toArray(ColumnValue[]::new));
  }

  @Override
  public Set<Entry<String, ColumnValue>> entrySet() {
    if (entries == null) {
      entries = new Entries();
    }
    return entries;
  }

  @Override
  public ColumnValue get(Object key) {
    Integer i = index.get(key);
    return i == null ? null : columns[i].getValue();
  }

  @Override
  public boolean containsKey(Object key) {
    return index.containsKey(key);
  }

  @Override
  public int size() {
    return columns.length;
  }

  @Override
  public void forEach(BiConsumer<? super String, ? super ColumnValue> action) {
    for (Entry<String, ColumnValue> column : columns) {
      action.accept(column.getKey(), column.getValue());
    }
  }

  private final class Entries extends AbstractSet<Entry<String, ColumnValue>> {
    @Override
    public Iterator<Entry<String, ColumnValue>> iterator() {
      return new Iterator<>() {
        private int next;

        @Override
        public boolean hasNext() {
          return next < columns.length;
        }

        @Override
        public Entry<String, ColumnValue> next() {
          if (next >= columns.length) {
            throw new NoSuchElementException();
          }
          return columns[next++];
        }
      };
    }

    @Override
    public int size() {
      return columns.length;
    }

    @Override
    public Spliterator<Entry<String, ColumnValue>> spliterator() {
      return Spliterators.spliterator(
          columns,
          Spliterator.ORDERED | Spliterator.DISTINCT | Spliterator.IMMUTABLE | Spliterator.NONNULL);
    }
  }
}
