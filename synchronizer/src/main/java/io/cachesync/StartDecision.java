package io.cachesync;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.Version;
import java.util.Optional;

/**
 * What a starting daemon does with the state it finds: resume streaming from the stored offsets, or
 * load every mapped table again on a new replication slot, and why. A pure value: {@link #of}
 * decides from what Redis and PostgreSQL hold, and nothing else.
 *
 * <p>Resuming needs both halves of the state: the offsets stored in Redis beside the data, and the
 * replication slot they point into. Without stored offsets the slot cannot be trusted to match
 * Redis; a slot that is gone, or confirmed past the stored offsets (recreated, or read by another
 * consumer), no longer holds the changes Redis misses; an initial load that was interrupted must
 * start again on a new slot, so that its rows are versioned past every change already in Redis.
 *
 * @param kind resume, first start or reload
 * @param reason why every table is loaded again (empty unless {@code kind} is RELOAD)
 * @param dropSlot whether the existing slot must be dropped first
 * @param sweep whether keys of rows deleted meanwhile may remain, so that a sweep must follow the
 *     load
 */
public record StartDecision(Kind kind, Optional<String> reason, boolean dropSlot, boolean sweep) {

  /** The three ways a daemon starts. */
  public enum Kind {
    /** Stream on from the stored offsets; load only newly mapped tables. */
    RESUME,
    /** Nothing stored: load every mapped table, then stream. */
    FIRST_START,
    /** The stored state cannot be resumed from: load every mapped table again. */
    RELOAD
  }

  public StartDecision {
    requireNonNull(kind, "kind");
    requireNonNull(reason, "reason");
    if ((kind == Kind.RELOAD) != reason.isPresent()) {
      throw new IllegalArgumentException("a reason is given for a reload, and only for one");
    }
  }

  /**
   * The position Debezium's offsets stored in Redis point to.
   *
   * @param furthestLsn the furthest LSN in the offsets
   * @param initialLoadInterrupted whether they were saved in the middle of the initial load
   */
  public record StoredOffsets(long furthestLsn, boolean initialLoadInterrupted) {}

  /**
   * Decides.
   *
   * @param slotName the replication slot's name, for the reason
   * @param slotConfirmedLsn the position the slot's consumer confirmed; empty when the slot does
   *     not exist
   * @param stored the offsets in Redis; empty when Redis holds none
   * @param sweepRecorded whether a reload recorded a sweep that has not run yet: it outlives the
   *     "first start" that follows a reload stopped after it reset the state and dropped the slot
   */
  public static StartDecision of(
      String slotName,
      Optional<Long> slotConfirmedLsn,
      Optional<StoredOffsets> stored,
      boolean sweepRecorded) {
    boolean slot = slotConfirmedLsn.isPresent();
    if (stored.isEmpty()) {
      return slot
          ? reload(
              "Redis holds no position for replication slot "
                  + slotName
                  + " (the cache was flushed or lost, or its initial load did not finish)",
              true)
          : new StartDecision(Kind.FIRST_START, Optional.empty(), false, sweepRecorded);
    }
    if (!slot) {
      return reload(
          "replication slot "
              + slotName
              + " is gone although Redis holds a position (dropped, or PostgreSQL restored or failed"
              + " over without it): the changes since then cannot be streamed",
          false);
    }
    if (stored.get().initialLoadInterrupted()) {
      return reload(
          "the initial load was interrupted (the daemon stopped before it finished): it starts"
              + " again on a new replication slot, so that its rows are versioned past every change"
              + " already in Redis",
          true);
    }
    long confirmed = slotConfirmedLsn.get();
    if (confirmed > stored.get().furthestLsn()) {
      return reload(
          "replication slot "
              + slotName
              + " was confirmed up to "
              + Version.lsnText(confirmed)
              + ", past the position stored in Redis ("
              + Version.lsnText(stored.get().furthestLsn())
              + "): it was recreated or read by another consumer, and the changes in between never"
              + " reached Redis",
          true);
    }
    return new StartDecision(Kind.RESUME, Optional.empty(), false, false);
  }

  private static StartDecision reload(String reason, boolean dropSlot) {
    // Redis may still hold keys of rows deleted while the stream was lost: the load rewrites the
    // rows that exist, and a sweep after it removes the keys of those that do not.
    return new StartDecision(Kind.RELOAD, Optional.of(reason), dropSlot, true);
  }

  /** Whether every mapped table is loaded (a first start or a reload). */
  public boolean loadsEverything() {
    return kind != Kind.RESUME;
  }
}
