package io.cachesync.source;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.TableId;
import java.util.Map;
import java.util.Set;

/**
 * A request to load the existing rows of tables in chunks read between watermarks and merged into
 * the stream (Netflix's DBLog, {@link ChunkedLoads}), so that a loaded row never overwrites a newer
 * change and a row deleted meanwhile is never resurrected.
 *
 * @param id names the request in logs and in the progress stored in Redis
 */
public record LoadRequest(String id, Set<TableId> tables) {

  public LoadRequest {
    requireNonNull(id, "id");
    tables = Set.copyOf(tables);
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
