package io.cachesync.state;

import java.util.Map;
import java.util.Set;

/**
 * The synchronizer's own state, kept in Redis under {@code cachesync:<name>:} next to the data it
 * describes: Debezium's offsets and the tables already loaded. Kept beside the data on purpose: if
 * the dataset is lost, the state is lost with it, and the synchronizer reloads instead of resuming
 * as if nothing happened.
 */
public interface StateStore extends AutoCloseable {

  /** Debezium's offsets, as opaque strings. */
  Map<String, String> offsets();

  void saveOffsets(Map<String, String> offsets);

  /** The tables whose existing rows were loaded (schema.table). */
  Set<String> loadedTables();

  void markLoaded(Set<String> tables);

  /** Forgets the offsets and loaded tables, so that the next start reloads everything. */
  void reset();

  @Override
  void close();
}
