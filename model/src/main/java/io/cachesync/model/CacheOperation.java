package io.cachesync.model;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What one change does to Redis, as planned by {@link ChangePlanner}. */
public sealed interface CacheOperation {

  TableId table();

  /**
   * Writes a row's projection under {@code key}, unless the stored version is newer.
   *
   * @param values every mapped column present in the row, NULLs included; columns whose value is
   *     {@link ColumnValue.Unchanged} keep what the cached value has, and the write becomes an
   *     eviction when there is no cached value to take them from
   * @param mergeFrom the key whose cached value holds the unchanged columns: {@code key} itself, or
   *     the row's old key when the change moved the row to a new key
   */
  record Write(
      TableId table,
      String key,
      ValueFormat format,
      Map<String, ColumnValue> values,
      Version version,
      Optional<Ttl> ttl,
      String mergeFrom)
      implements CacheOperation {
    public Write {
      requireNonNull(table, "table");
      requireNonNull(key, "key");
      requireNonNull(format, "format");
      values = FrozenColumns.of(values);
      requireNonNull(version, "version");
      requireNonNull(ttl, "ttl");
      requireNonNull(mergeFrom, "mergeFrom");
    }

    /** A write whose unchanged columns, if any, come from the key's own cached value. */
    public Write(
        TableId table,
        String key,
        ValueFormat format,
        Map<String, ColumnValue> values,
        Version version,
        Optional<Ttl> ttl) {
      this(table, key, format, values, version, ttl, key);
    }

    /** The same write, taking its unchanged columns from {@code source}'s cached value. */
    public Write mergingFrom(String source) {
      return new Write(table, key, format, values, version, ttl, source);
    }

    /** Columns whose unchanged TOAST value must come from the cached value. */
    public List<String> unchangedColumns() {
      List<String> unchanged = new ArrayList<>(0);
      for (Map.Entry<String, ColumnValue> value : values.entrySet()) {
        if (value.getValue() instanceof ColumnValue.Unchanged) {
          unchanged.add(value.getKey());
        }
      }
      return Collections.unmodifiableList(unchanged);
    }
  }

  /** Deletes {@code key}, unless the stored version is newer. */
  record Evict(TableId table, String key, Version version) implements CacheOperation {
    public Evict {
      requireNonNull(table, "table");
      requireNonNull(key, "key");
      requireNonNull(version, "version");
    }
  }

  /**
   * Deletes every key of a table (TRUNCATE): the keys that match its whole template, not merely its
   * literal prefix, so that keys an application keeps next to the cache ({@code user:42:session}
   * beside {@code user:{id}:profile}) stay. A key the template matches is the table's whatever it
   * holds, a value cachesync wrote or not, of any type, in both modes: once the rows are gone no
   * key of theirs may stay (a DELETE of the same row evicts its key alike).
   */
  record EvictTable(TableId table, KeyTemplate template, Version version)
      implements CacheOperation {
    public EvictTable {
      requireNonNull(table, "table");
      requireNonNull(template, "template");
      requireNonNull(version, "version");
    }

    /** The pattern of the keys under the table's prefix: where a search for its keys starts. */
    public String keyGlob() {
      return template.prefixGlob();
    }

    /** Whether {@code key} is a key of the table's template. */
    public boolean owns(String key) {
      return template.match(key).isPresent();
    }
  }

  /**
   * A change that cannot be applied, for example a key column that is NULL or would make the key
   * ambiguous. It is logged and counted; nothing is written.
   */
  record Reject(TableId table, String reason) implements CacheOperation {
    public Reject {
      requireNonNull(table, "table");
      requireNonNull(reason, "reason");
    }
  }
}
