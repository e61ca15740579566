package io.cachesync.sync;

import io.cachesync.model.CacheOperation;
import java.util.ArrayList;
import java.util.List;

/**
 * What applying one batch did.
 *
 * @param written values written
 * @param evicted keys deleted (deletes, evict mode, TRUNCATE, and writes turned into evictions)
 * @param stale operations skipped because Redis held a newer version
 * @param failures writes Redis could not take as written, each already evicted (invariant 4)
 * @param staleOperations the operations counted in {@code stale}, where the writer knows them (a
 *     TRUNCATE's evictions are keys, not operations); for the per-table metrics
 * @param failedOperations the operations counted in {@code failures}
 */
public record BatchOutcome(
    long written,
    long evicted,
    long stale,
    List<String> failures,
    List<CacheOperation> staleOperations,
    List<CacheOperation> failedOperations) {

  public static final BatchOutcome NONE = new BatchOutcome(0, 0, 0, List.of());

  public BatchOutcome {
    failures = List.copyOf(failures);
    staleOperations = List.copyOf(staleOperations);
    failedOperations = List.copyOf(failedOperations);
  }

  /** An outcome that does not say which operations were stale or failed. */
  public BatchOutcome(long written, long evicted, long stale, List<String> failures) {
    this(written, evicted, stale, failures, List.of(), List.of());
  }

  public BatchOutcome plus(BatchOutcome other) {
    return new BatchOutcome(
        written + other.written,
        evicted + other.evicted,
        stale + other.stale,
        concat(failures, other.failures),
        concat(staleOperations, other.staleOperations),
        concat(failedOperations, other.failedOperations));
  }

  private static <T> List<T> concat(List<T> first, List<T> second) {
    if (second.isEmpty()) {
      return first;
    }
    List<T> all = new ArrayList<>(first);
    all.addAll(second);
    return all;
  }
}
