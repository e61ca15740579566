package io.cachesync.sync;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.Version;
import java.util.List;

/**
 * Hears what the {@link Synchronizer} does with each batch, for metrics and health. Called on the
 * thread that applies the batch: implementations must be quick and must not throw.
 */
public interface SyncListener {
  /** Hears nothing. */
  SyncListener NONE = new SyncListener() {};

  /** What became of one change of a batch. */
  enum Outcome {
    /** Redis acknowledged its write or eviction. */
    APPLIED,
    /** Skipped: Redis held a newer version of the row. */
    STALE,
    /** Skipped: a replay of a change Redis already acknowledged. */
    REPLAYED,
    /** Skipped: the planner refused it (a key that cannot be rendered); its key was evicted. */
    REFUSED,
    /** Redis could not take its value (too large, wrong type, ...): its key was evicted instead. */
    FAILED
  }

  /**
   * A batch is handed over and about to be applied; {@code batch} is in commit order and ends at
   * {@code position}.
   */
  default void batchStarted(List<ChangeEvent> batch, Version position) {}

  /**
   * Redis acknowledged the batch.
   *
   * @param outcomes what became of each change, by index in {@code batch}
   * @param position the position Redis holds now
   * @param elapsedNanos from hand-over to acknowledgement
   */
  default void batchApplied(
      List<ChangeEvent> batch, Outcome[] outcomes, Version position, long elapsedNanos) {}

  /**
   * Redis cannot take the batch now; it is retried after a delay, nothing is confirmed meanwhile.
   */
  default void retrying(RedisUnavailableException error) {}
}
