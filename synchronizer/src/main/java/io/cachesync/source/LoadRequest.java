package io.cachesync.source;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.TableId;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A request to load the existing rows of tables in chunks read between watermarks and merged into
 * the stream (Netflix's DBLog, {@link ChunkedLoads}), so that a loaded row never overwrites a newer
 * change and a row deleted meanwhile is never resurrected.
 *
 * @param id names the request in logs and in the progress stored in Redis
 * @param keys the keys whose rows it writes: all of them, or those of some Redis Cluster slots (the
 *     repair of a master that lost writes); rows of other keys are read and not written. The
 *     PostgreSQL 13 path (Debezium's incremental snapshot) writes every row
 */
public record LoadRequest(String id, Set<TableId> tables, Predicate<String> keys) {

  public LoadRequest {
    requireNonNull(id, "id");
    requireNonNull(keys, "keys");
    tables = Set.copyOf(tables);
  }

  /** A request that writes the rows of every key. */
  public LoadRequest(String id, Set<TableId> tables) {
    this(id, tables, key -> true);
  }

  /** Hears how a request goes; called on Debezium's thread, after the rows were applied. */
  public interface Listener {
    /** The request waits for streaming to run and for the load before it to end. */
    default void queued(LoadRequest request) {}

    /** Debezium was asked to load the request's tables. */
    default void started(LoadRequest request) {}

    void progress(LoadRequest request, Map<TableId, Long> rowsLoaded);

    void completed(LoadRequest request, Map<TableId, Long> rowsLoaded);

    /** The initial load of a first start is done. */
    void initialLoadCompleted(Map<TableId, Long> rowsLoaded);
  }
}
