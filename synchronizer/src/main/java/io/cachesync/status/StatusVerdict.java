package io.cachesync.status;

import static java.util.Objects.requireNonNull;

import io.cachesync.StartDecision;
import io.cachesync.model.Version;
import io.cachesync.source.ReplicationSlots.SlotRetention;
import io.cachesync.source.ReplicationSlots.WalView;
import io.cachesync.status.StatusFacts.RedisFacts;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The judgement of {@code cachesync status} on what it found: all is well, something needs
 * attention, or a server could not be read; with every reason. A pure value: {@link #of} decides
 * from the {@link StatusFacts} alone.
 *
 * <p>All is well when a daemon holds the writer's role, the replication slot is active, and the
 * slot still holds the WAL from the position Redis holds on (its {@code restart_lsn} is at or below
 * it), with no work pending.
 */
public record StatusVerdict(Verdict verdict, List<Reason> reasons) {

  /** The three verdicts; {@code cachesync status} exits 0, 1 and 3 on them. */
  public enum Verdict {
    OK,
    ATTENTION,
    UNREACHABLE;

    /** As in the JSON form: ok, attention, unreachable. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Why the verdict is not ok.
   *
   * @param code stable, for scripts (see the README)
   * @param message for people
   */
  public record Reason(String code, String message) {
    public Reason {
      requireNonNull(code, "code");
      requireNonNull(message, "message");
    }
  }

  public StatusVerdict {
    requireNonNull(verdict, "verdict");
    reasons = List.copyOf(reasons);
    if ((verdict == Verdict.OK) != reasons.isEmpty()) {
      throw new IllegalArgumentException(
          "reasons are given when the verdict is not ok, and only then");
    }
  }

  public static StatusVerdict of(StatusFacts facts) {
    List<Reason> reasons = new ArrayList<>();
    facts
        .postgres()
        .error()
        .ifPresent(
            error ->
                reasons.add(
                    new Reason(
                        "postgres_unreachable",
                        "PostgreSQL at " + facts.postgresAddress() + " cannot be read: " + error)));
    facts
        .redis()
        .error()
        .ifPresent(
            error ->
                reasons.add(
                    new Reason(
                        "redis_unreachable",
                        "Redis at " + facts.redisAddress() + " cannot be read: " + error)));
    Optional<WalView> wal = facts.postgres().value();
    Optional<RedisFacts> redis = facts.redis().value();
    Optional<SlotRetention> slot = wal.flatMap(WalView::slot);
    boolean streaming = slot.map(s -> s.slot().active()).orElse(false);
    wal.ifPresent(w -> slotReasons(facts.slotName(), w, reasons));
    redis.ifPresent(r -> redisReasons(facts, r, streaming, reasons));
    if (wal.isPresent() && redis.isPresent()) {
      retentionReason(facts, slot, redis.get(), reasons);
      if (!streaming) {
        nextStartReason(facts, slot, redis.get(), reasons);
      }
    }
    if (facts.postgres().error().isPresent() || facts.redis().error().isPresent()) {
      return new StatusVerdict(Verdict.UNREACHABLE, reasons);
    }
    return new StatusVerdict(reasons.isEmpty() ? Verdict.OK : Verdict.ATTENTION, reasons);
  }

  private static void slotReasons(String slotName, WalView wal, List<Reason> reasons) {
    if (wal.slot().isEmpty()) {
      reasons.add(
          new Reason(
              "slot_missing",
              "replication slot "
                  + slotName
                  + " does not exist: no daemon has started yet, or the slot was dropped"));
      return;
    }
    SlotRetention slot = wal.slot().get();
    if (!slot.slot().active()) {
      reasons.add(
          new Reason(
              "slot_inactive",
              "replication slot "
                  + slotName
                  + " is not active: no daemon streams from it, and PostgreSQL keeps its WAL"));
    }
    String walStatus = slot.walStatus().orElse("");
    if (walStatus.equals("lost") || walStatus.equals("unreserved")) {
      reasons.add(
          new Reason(
              "wal_" + walStatus,
              "replication slot "
                  + slotName
                  + (walStatus.equals("lost")
                      ? " lost WAL it needs (wal_status lost, max_slot_wal_keep_size): the next"
                          + " start reloads every table"
                      : " holds more WAL than max_slot_wal_keep_size (wal_status unreserved): it"
                          + " loses WAL at the next checkpoint unless the daemon catches up")));
    }
  }

  private static void redisReasons(
      StatusFacts facts, RedisFacts redis, boolean streaming, List<Reason> reasons) {
    if (redis.writer().isEmpty()) {
      reasons.add(
          new Reason(
              "no_writer",
              "no daemon holds the writer's role (cachesync:"
                  + facts.name()
                  + ":writer is absent)"));
    }
    if (redis.position().isEmpty()) {
      reasons.add(
          new Reason(
              "no_position",
              "Redis holds no position: the tables were never loaded into it, or its data was lost"));
    }
    if (redis.offsets().map(StartDecision.StoredOffsets::initialLoadInterrupted).orElse(false)) {
      reasons.add(
          streaming && redis.writer().isPresent()
              ? new Reason("initial_load_running", "the initial load is running")
              : new Reason(
                  "initial_load_interrupted",
                  "the initial load was interrupted: the next start loads every table again"));
    }
    Set<String> notLoaded = new TreeSet<>(facts.mappedTables());
    notLoaded.removeAll(redis.loadedTables());
    if (!notLoaded.isEmpty()) {
      reasons.add(
          new Reason(
              "tables_not_loaded",
              "mapped tables not loaded yet: " + String.join(", ", notLoaded)));
    }
    redis
        .sweep()
        .ifPresent(
            record ->
                reasons.add(
                    new Reason(
                        "sweep_pending",
                        "the keys of rows deleted before a reload are still to be removed ("
                            + record
                            + ")")));
    if (redis.resyncQueued() > 0) {
      reasons.add(
          new Reason(
              "resync_queued",
              redis.resyncQueued()
                  + (redis.resyncQueued() == 1 ? " resync request" : " resync requests")
                  + " queued for the daemon"));
    }
    if (redis.resyncTaken() > 0) {
      reasons.add(
          new Reason(
              "resync_taken",
              redis.resyncTaken()
                  + (redis.resyncTaken() == 1 ? " resync request" : " resync requests")
                  + " taken by a daemon and not done yet"));
    }
    if (!redis.truncates().isEmpty()) {
      reasons.add(
          new Reason(
              "truncates_pending",
              "evictions of a TRUNCATE not done yet: "
                  + String.join(", ", new TreeSet<>(redis.truncates()))));
    }
  }

  /** Whether the slot still holds the WAL after what Redis holds, so the stream resumes there. */
  private static void retentionReason(
      StatusFacts facts, Optional<SlotRetention> slot, RedisFacts redis, List<Reason> reasons) {
    if (slot.isEmpty() || (redis.position().isEmpty() && redis.offsets().isEmpty())) {
      return;
    }
    long held = heldLsn(redis);
    Optional<Long> restart = slot.get().restartLsn();
    if (restart.isEmpty() || Long.compareUnsigned(restart.get(), held) > 0) {
      reasons.add(
          new Reason(
              "position_not_retained",
              "replication slot "
                  + facts.slotName()
                  + (restart.isEmpty()
                      ? " holds no WAL (restart_lsn is null)"
                      : " starts at " + Version.lsnText(restart.get()))
                  + ", past the position Redis holds ("
                  + Version.lsnText(held)
                  + "): the changes in between cannot be streamed"));
    }
  }

  /** What a daemon started now would do, when none streams: a reload needs attention. */
  private static void nextStartReason(
      StatusFacts facts, Optional<SlotRetention> slot, RedisFacts redis, List<Reason> reasons) {
    StartDecision next =
        StartDecision.of(
            facts.slotName(),
            slot.map(s -> s.slot().confirmedFlushLsn()),
            redis.offsets(),
            redis.sweep().isPresent());
    if (next.kind() == StartDecision.Kind.RELOAD) {
      reasons.add(
          new Reason(
              "reload_pending",
              "the next start loads every mapped table again: " + next.reason().orElseThrow()));
    }
  }

  /** The furthest WAL position Redis holds: in the stored position, or in the stored offsets. */
  public static long heldLsn(RedisFacts redis) {
    long position = redis.position().map(StatusFacts.StoredPosition::furthestLsn).orElse(0L);
    long offsets = redis.offsets().map(StartDecision.StoredOffsets::furthestLsn).orElse(0L);
    return Math.max(position, offsets);
  }

  /** Whether all is well: the command exits 0. */
  public boolean ok() {
    return verdict == Verdict.OK;
  }
}
