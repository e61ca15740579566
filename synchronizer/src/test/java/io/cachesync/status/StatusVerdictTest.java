package io.cachesync.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.StartDecision.StoredOffsets;
import io.cachesync.model.Version;
import io.cachesync.source.ReplicationSlots.Slot;
import io.cachesync.source.ReplicationSlots.SlotRetention;
import io.cachesync.source.ReplicationSlots.WalView;
import io.cachesync.status.StatusFacts.Estimate;
import io.cachesync.status.StatusFacts.Reading;
import io.cachesync.status.StatusFacts.RedisFacts;
import io.cachesync.status.StatusFacts.StoredPosition;
import io.cachesync.status.StatusFacts.TableKeys;
import io.cachesync.status.StatusFacts.Writer;
import io.cachesync.status.StatusVerdict.Reason;
import io.cachesync.status.StatusVerdict.Verdict;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StatusVerdictTest {
  private static final String SLOT = "cachesync_shop";
  private static final List<String> MAPPED = List.of("public.users", "public.orders");

  private static Slot activeSlot(long confirmed) {
    return new Slot(SLOT, true, Optional.of(4242), confirmed);
  }

  private static WalView wal(Slot slot, long restart, String walStatus) {
    return new WalView(
        0x3000,
        Optional.of(
            new SlotRetention(
                slot,
                Optional.of(restart),
                Optional.of(walStatus),
                Optional.of(0x3000 - restart))));
  }

  private static RedisFacts redis(
      Optional<Writer> writer, Optional<StoredPosition> position, Optional<StoredOffsets> offsets) {
    return new RedisFacts(
        position,
        writer,
        offsets,
        Optional.empty(),
        0,
        0,
        Set.of(),
        Set.copyOf(MAPPED),
        10,
        List.of(new TableKeys("public.users", "user:{id}", 3, Estimate.EXACT, 0)));
  }

  private static final Optional<Writer> WRITER =
      Optional.of(new Writer("4242@host/abc", Optional.of(Duration.ofSeconds(9))));
  private static final Optional<StoredPosition> AT_2000 =
      Optional.of(
          new StoredPosition(new Version(0x1F00, 0x2000), Optional.empty(), Optional.empty()));
  private static final Optional<StoredOffsets> OFFSETS_2010 =
      Optional.of(new StoredOffsets(0x2010, false));

  private static StatusFacts facts(Reading<WalView> postgres, Reading<RedisFacts> redis) {
    return new StatusFacts(
        "shop", SLOT, "127.0.0.1:5432/shop", "redis://127.0.0.1:6379", MAPPED, postgres, redis);
  }

  private static StatusFacts healthy(RedisFacts redis) {
    return facts(Reading.of(wal(activeSlot(0x2000), 0x1F80, "reserved")), Reading.of(redis));
  }

  private static List<String> codes(StatusVerdict verdict) {
    return verdict.reasons().stream().map(Reason::code).toList();
  }

  @Test
  void of_streamingDaemonNothingPending_isOk() {
    StatusVerdict verdict = StatusVerdict.of(healthy(redis(WRITER, AT_2000, OFFSETS_2010)));

    assertThat(verdict).isEqualTo(new StatusVerdict(Verdict.OK, List.of()));
  }

  @Test
  void of_noSlotNoStateNoDaemon_listsTheMissingSlotWriterPositionAndTables() {
    StatusFacts facts =
        facts(
            Reading.of(new WalView(0x3000, Optional.empty())),
            Reading.of(
                new RedisFacts(
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    0,
                    0,
                    Set.of(),
                    Set.of(),
                    0,
                    List.of())));

    StatusVerdict verdict = StatusVerdict.of(facts);

    assertThat(verdict.verdict()).isEqualTo(Verdict.ATTENTION);
    assertThat(codes(verdict))
        .containsExactly("slot_missing", "no_writer", "no_position", "tables_not_loaded");
    assertThat(verdict.reasons().get(0).message())
        .isEqualTo(
            "replication slot cachesync_shop does not exist: no daemon has started yet, or the"
                + " slot was dropped");
    assertThat(verdict.reasons().get(3).message())
        .isEqualTo("mapped tables not loaded yet: public.orders, public.users");
  }

  @Test
  void of_daemonKilled_slotInactiveAndLeaseStillHeld_needsAttention() {
    Slot inactive = new Slot(SLOT, false, Optional.empty(), 0x2000);
    StatusFacts facts =
        facts(
            Reading.of(wal(inactive, 0x1F80, "reserved")),
            Reading.of(redis(WRITER, AT_2000, OFFSETS_2010)));

    StatusVerdict verdict = StatusVerdict.of(facts);

    assertThat(verdict.verdict()).isEqualTo(Verdict.ATTENTION);
    assertThat(codes(verdict)).containsExactly("slot_inactive");
  }

  @Test
  void of_noDaemonHoldsTheRole_needsAttentionEvenWhileTheSlotIsActive() {
    StatusVerdict verdict =
        StatusVerdict.of(healthy(redis(Optional.empty(), AT_2000, OFFSETS_2010)));

    assertThat(codes(verdict)).containsExactly("no_writer");
    assertThat(verdict.reasons().get(0).message())
        .isEqualTo("no daemon holds the writer's role (cachesync:shop:writer is absent)");
  }

  @Test
  void of_slotRestartPastWhatRedisHolds_positionNotRetained() {
    StatusFacts facts =
        facts(
            Reading.of(wal(activeSlot(0x2800), 0x2800, "reserved")),
            Reading.of(redis(WRITER, AT_2000, OFFSETS_2010)));

    StatusVerdict verdict = StatusVerdict.of(facts);

    assertThat(codes(verdict)).containsExactly("position_not_retained");
    assertThat(verdict.reasons().get(0).message())
        .isEqualTo(
            "replication slot cachesync_shop starts at 0/2800, past the position Redis holds"
                + " (0/2010): the changes in between cannot be streamed");
  }

  @Test
  void of_restartAtWhatRedisHolds_isRetained() {
    StatusFacts facts =
        facts(
            Reading.of(wal(activeSlot(0x2010), 0x2010, "reserved")),
            Reading.of(redis(WRITER, AT_2000, OFFSETS_2010)));

    assertThat(StatusVerdict.of(facts).ok()).isTrue();
  }

  @Test
  void of_slotInactiveAndConfirmedPastTheOffsets_saysTheNextStartReloads() {
    Slot inactive = new Slot(SLOT, false, Optional.empty(), 0x2800);
    StatusFacts facts =
        facts(
            Reading.of(wal(inactive, 0x2000, "reserved")),
            Reading.of(redis(Optional.empty(), AT_2000, OFFSETS_2010)));

    StatusVerdict verdict = StatusVerdict.of(facts);

    assertThat(codes(verdict)).containsExactly("slot_inactive", "no_writer", "reload_pending");
    assertThat(verdict.reasons().get(2).message())
        .startsWith(
            "the next start loads every mapped table again: replication slot cachesync_shop was"
                + " confirmed up to 0/2800, past the position stored in Redis (0/2010)");
  }

  @Test
  void of_pendingWork_listsEachKind() {
    RedisFacts redis =
        new RedisFacts(
            AT_2000,
            WRITER,
            OFFSETS_2010,
            Optional.of("after the load begun at 2026-01-01T00:00:00Z"),
            2,
            1,
            Set.of("public.orders"),
            Set.of("public.users"),
            10,
            List.of());

    StatusVerdict verdict = StatusVerdict.of(healthy(redis));

    assertThat(verdict.verdict()).isEqualTo(Verdict.ATTENTION);
    assertThat(verdict.reasons())
        .containsExactly(
            new Reason("tables_not_loaded", "mapped tables not loaded yet: public.orders"),
            new Reason(
                "sweep_pending",
                "the keys of rows deleted before a reload are still to be removed (after the load"
                    + " begun at 2026-01-01T00:00:00Z)"),
            new Reason("resync_queued", "2 resync requests queued for the daemon"),
            new Reason("resync_taken", "1 resync request taken by a daemon and not done yet"),
            new Reason("truncates_pending", "evictions of a TRUNCATE not done yet: public.orders"));
  }

  @Test
  void of_initialLoadOffsets_runningWhileStreamingInterruptedOtherwise() {
    Optional<StoredOffsets> loading = Optional.of(new StoredOffsets(0x2010, true));
    Slot inactive = new Slot(SLOT, false, Optional.empty(), 0x2000);

    StatusVerdict running = StatusVerdict.of(healthy(redis(WRITER, AT_2000, loading)));
    StatusVerdict interrupted =
        StatusVerdict.of(
            facts(
                Reading.of(wal(inactive, 0x1F80, "reserved")),
                Reading.of(redis(Optional.empty(), AT_2000, loading))));

    assertThat(codes(running)).containsExactly("initial_load_running");
    assertThat(codes(interrupted))
        .containsExactly(
            "slot_inactive", "no_writer", "initial_load_interrupted", "reload_pending");
  }

  @Test
  void of_walLost_needsAttention() {
    StatusFacts facts =
        facts(
            Reading.of(
                new WalView(
                    0x3000,
                    Optional.of(
                        new SlotRetention(
                            activeSlot(0x2000),
                            Optional.empty(),
                            Optional.of("lost"),
                            Optional.empty())))),
            Reading.of(redis(WRITER, AT_2000, OFFSETS_2010)));

    assertThat(codes(StatusVerdict.of(facts))).containsExactly("wal_lost", "position_not_retained");
  }

  @Test
  void of_redisUnreachable_isUnreachableAndStillJudgesPostgres() {
    Slot inactive = new Slot(SLOT, false, Optional.empty(), 0x2000);
    StatusFacts facts =
        facts(
            Reading.of(wal(inactive, 0x1F80, "reserved")),
            Reading.failed("Unable to connect to 127.0.0.1:6379 (Connection refused)"));

    StatusVerdict verdict = StatusVerdict.of(facts);

    assertThat(verdict.verdict()).isEqualTo(Verdict.UNREACHABLE);
    assertThat(verdict.reasons())
        .containsExactly(
            new Reason(
                "redis_unreachable",
                "Redis at redis://127.0.0.1:6379 cannot be read: Unable to connect to"
                    + " 127.0.0.1:6379 (Connection refused)"),
            new Reason(
                "slot_inactive",
                "replication slot cachesync_shop is not active: no daemon streams from it, and"
                    + " PostgreSQL keeps its WAL"));
  }

  @Test
  void of_postgresUnreachable_isUnreachableAndStillJudgesRedis() {
    StatusFacts facts =
        facts(
            Reading.failed("PostgreSQL at 127.0.0.1:1 cannot be reached: refused"),
            Reading.of(redis(Optional.empty(), AT_2000, OFFSETS_2010)));

    StatusVerdict verdict = StatusVerdict.of(facts);

    assertThat(verdict.verdict()).isEqualTo(Verdict.UNREACHABLE);
    assertThat(codes(verdict)).containsExactly("postgres_unreachable", "no_writer");
  }

  @Test
  void position_appliedFieldFurtherThanTheVersion_countsAsHeld() {
    StoredPosition position =
        new StoredPosition(new Version(0x1F00, 0x2000), Optional.empty(), Optional.of(0x2100L));

    assertThat(position.furthestLsn()).isEqualTo(0x2100);
    assertThat(
            StatusCollector.position(
                java.util.Map.of(
                    "version", position.version().text(),
                    "applied", "0000000000002100",
                    "at", "2026-01-01T00:00:00Z")))
        .hasValue(
            new StoredPosition(
                position.version(), Optional.of("2026-01-01T00:00:00Z"), Optional.of(0x2100L)));
    assertThat(StatusCollector.position(java.util.Map.of("lsn", "0/1"))).isEmpty();
  }
}
