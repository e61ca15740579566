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

  /** Queues a resync for the daemon and records it as queued. */
  void submitResync(String id, Set<String> tables);

  /** The next queued resync, taken off the queue: its id and tables. */
  java.util.Optional<Map.Entry<String, Set<String>>> takeResync();

  /**
   * Records how a resync goes: {@code status} (queued, running, done) and the rows loaded per
   * table.
   */
  void resyncStatus(String id, String status, Map<String, Long> rowsLoaded);

  /** What {@link #resyncStatus} recorded: {@code status} and {@code rows:<table>} fields. */
  Map<String, String> resync(String id);

  /** The version stored with the last applied batch: how far the synchronizer has applied. */
  java.util.Optional<io.cachesync.model.Version> position();

  /** Forgets the offsets and loaded tables, so that the next start reloads everything. */
  void reset();

  @Override
  void close();
}
