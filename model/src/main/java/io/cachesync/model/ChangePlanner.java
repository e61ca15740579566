package io.cachesync.model;

import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Reject;
import io.cachesync.model.CacheOperation.Write;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Turns a change and its table's mapping into the cache operations that apply it. */
public final class ChangePlanner {
  /** Names starting with this are the value's metadata ({@code __v}), never a column's. */
  public static final String RESERVED_PREFIX = "__";

  private final Map<TableId, TableMapping> tables = new HashMap<>();

  public ChangePlanner(Mapping mapping) {
    for (TableMapping table : mapping.tables()) {
      tables.put(table.table(), table);
    }
  }

  /** The operations for {@code event}, in order; none when its table is not mapped. */
  public List<CacheOperation> plan(ChangeEvent event) {
    TableMapping mapping = tables.get(event.table());
    if (mapping == null) {
      return List.of();
    }
    return switch (event.kind()) {
      case TRUNCATE -> List.of(new EvictTable(event.table(), mapping.key(), event.version()));
      case DELETE -> List.of(evict(mapping, event.before(), event));
      case SNAPSHOT, INSERT -> upsert(mapping, event);
      case UPDATE -> update(mapping, event);
    };
  }

  private List<CacheOperation> update(TableMapping mapping, ChangeEvent event) {
    List<CacheOperation> upsert = upsert(mapping, event);
    Optional<String> oldKey = key(mapping, event.before());
    Optional<String> newKey = key(mapping, event.after());
    if (oldKey.isPresent() && newKey.isPresent() && !oldKey.equals(newKey)) {
      // The row moved to a new key. Unchanged TOAST columns are only in the old key's value: the
      // new value is written from it first, then the old key is evicted.
      List<CacheOperation> operations = new ArrayList<>();
      for (CacheOperation operation : upsert) {
        operations.add(
            operation instanceof Write write ? write.mergingFrom(oldKey.get()) : operation);
      }
      operations.add(new Evict(event.table(), oldKey.get(), event.version()));
      return operations;
    }
    if (oldKey.isPresent() && newKey.isEmpty()) {
      // The row's new key cannot be rendered (a NULL, an empty value, a separator inside it): the
      // old key holds the row as it was and nothing will replace it, so it goes.
      List<CacheOperation> operations = new ArrayList<>(upsert);
      operations.add(new Evict(event.table(), oldKey.get(), event.version()));
      return operations;
    }
    return upsert;
  }

  private List<CacheOperation> upsert(TableMapping mapping, ChangeEvent event) {
    if (mapping.mode() == SyncMode.EVICT) {
      return List.of(evict(mapping, event.after(), event));
    }
    String key;
    try {
      key = mapping.key().render(event.after());
    } catch (KeyRenderException e) {
      return List.of(new Reject(event.table(), e.getMessage()));
    }
    Map<String, ColumnValue> values = project(mapping, event.after());
    for (Map.Entry<String, ColumnValue> value : values.entrySet()) {
      if (value.getKey().startsWith(RESERVED_PREFIX)) {
        // A column named like the value's metadata (a __v added to the table while the daemon
        // runs, with columns omitted) would overwrite it: a __v of 'zzzz' freezes the key, every
        // later write being taken for stale. The value is evicted and never written.
        return evictInstead(
            event,
            key,
            "column "
                + value.getKey()
                + " has a name reserved for the value's metadata (names starting with "
                + RESERVED_PREFIX
                + "); evicted. Rename the column, or list the mapping's columns without it");
      }
      if (value.getValue() instanceof ColumnValue.Unencodable unencodable) {
        // A value without one of its columns would be wrong; a cache miss is not.
        return evictInstead(
            event,
            key,
            "column "
                + value.getKey()
                + " cannot be encoded ("
                + unencodable.reason()
                + "); evicted");
      }
    }
    return List.of(
        new Write(event.table(), key, mapping.format(), values, event.version(), mapping.ttl()));
  }

  /** Evicts {@code key} rather than write a value that would be wrong, and says why. */
  private static List<CacheOperation> evictInstead(ChangeEvent event, String key, String why) {
    return List.of(
        new Evict(event.table(), key, event.version()),
        new Reject(event.table(), "key " + DisplayText.of(key) + ": " + why));
  }

  private CacheOperation evict(TableMapping mapping, Row row, ChangeEvent event) {
    try {
      return new Evict(event.table(), mapping.key().render(row), event.version());
    } catch (KeyRenderException e) {
      return new Reject(event.table(), e.getMessage());
    }
  }

  private static Optional<String> key(TableMapping mapping, Row row) {
    if (row.columns().isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(mapping.key().render(row));
    } catch (KeyRenderException e) {
      return Optional.empty();
    }
  }

  /** The mapped columns present in the row; a column dropped from the table is simply absent. */
  private static Map<String, ColumnValue> project(TableMapping mapping, Row row) {
    if (mapping.allColumns()) {
      return row.columns();
    }
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    for (String column : mapping.columns()) {
      row.get(column).ifPresent(value -> values.put(column, value));
    }
    return values;
  }
}
