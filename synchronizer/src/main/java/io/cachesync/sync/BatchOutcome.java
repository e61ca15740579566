package io.cachesync.sync;

import java.util.List;

/**
 * What applying one batch did.
 *
 * @param written values written
 * @param evicted keys deleted (deletes, evict mode, TRUNCATE, and writes turned into evictions)
 * @param stale operations skipped because Redis held a newer version
 * @param failures writes Redis could not take as written, each already evicted (invariant 4)
 */
public record BatchOutcome(long written, long evicted, long stale, List<String> failures) {

  public static final BatchOutcome NONE = new BatchOutcome(0, 0, 0, List.of());

  public BatchOutcome {
    failures = List.copyOf(failures);
  }

  public BatchOutcome plus(BatchOutcome other) {
    List<String> all = new java.util.ArrayList<>(failures);
    all.addAll(other.failures);
    return new BatchOutcome(
        written + other.written, evicted + other.evicted, stale + other.stale, all);
  }
}
