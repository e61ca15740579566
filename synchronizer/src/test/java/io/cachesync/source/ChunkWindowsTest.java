package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangeEvent.Kind;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.Row;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The window logic of cachesync's chunked loads, on synthetic streams. */
class ChunkWindowsTest {
  private static final TableId ITEMS = new TableId("public", "items");
  private static final TableId OTHER = new TableId("public", "other");
  private static final TableMapping MAPPING =
      new TableMapping(
          ITEMS,
          KeyTemplate.parse("item:{id}"),
          ValueFormat.HASH,
          SyncMode.WRITE,
          List.of(),
          Optional.empty());
  private static final Version LOW = new Version(100, 200);
  private static final Version HIGH = new Version(300, 400);

  private final ChunkWindows windows = new ChunkWindows("shop");

  @Test
  void rowsTheStreamChangedInsideTheWindow_areLeftToTheStream() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    windows.observe(change(Kind.DELETE, row(2), Row.EMPTY));
    windows.observe(change(Kind.UPDATE, row(3), row(30))); // a key that moved: both go
    windows.observe(change(Kind.INSERT, Row.EMPTY, row(4)));
    windows.observe(new ChangeEvent(OTHER, Kind.DELETE, row(5), Row.EMPTY, new Version(250, 260)));
    chunk.read(List.of(row(1), row(2), row(3), row(5), row(30)), List.of());

    ChunkWindows.Chunk closed = message(chunk.high(), HIGH);

    assertThat(closed).isSameAs(chunk);
    List<ChangeEvent> events = closed.events();
    assertThat(events)
        .extracting(e -> e.after().get("id").orElseThrow())
        .containsExactly(number(1), number(5));
    assertThat(events).allSatisfy(e -> assertThat(e.version()).isEqualTo(HIGH));
    assertThat(events).allSatisfy(e -> assertThat(e.kind()).isEqualTo(Kind.SNAPSHOT));
    assertThat(closed.rowsRead()).isEqualTo(5);
  }

  @Test
  void rowsOfKeysTheLoadDoesNotWrite_areLeftOut() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING, key -> !key.equals("item:2"));
    message(chunk.low(), LOW);
    windows.observe(change(Kind.DELETE, row(3), Row.EMPTY));
    chunk.read(List.of(row(1), row(2), row(3), row(4)), List.of());

    ChunkWindows.Chunk closed = message(chunk.high(), HIGH);

    assertThat(closed.events())
        .extracting(e -> e.after().get("id").orElseThrow())
        .containsExactly(number(1), number(4));
  }

  @Test
  void aChangeInsideTheWindowThatTheStreamCouldNotWrite_makesTheChunkBeReadAgain() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    windows.observe(change(Kind.UPDATE, row(2), row(2)));
    chunk.read(List.of(row(1), row(2)), List.of());
    // The batch holding the update evicted item:2 (no cached value for an unchanged TOAST column).
    windows.missed(Set.of("item:2", "item:9"));

    assertThat(message(chunk.high(), HIGH)).isNull();
    assertThat(chunk.applied).isCompletedExceptionally();
    assertThat(chunk.unsure()).contains("item:2");
  }

  @Test
  void keysTheStreamLeftMissing_areWrittenByALoadOfOtherKeys_once() {
    windows.missed(Set.of("item:3"));
    ChunkWindows.Chunk chunk = windows.register(MAPPING, key -> key.equals("item:1"));
    message(chunk.low(), LOW);
    chunk.read(List.of(row(1), row(2), row(3)), List.of());

    assertThat(message(chunk.high(), HIGH).events())
        .extracting(e -> e.after().get("id").orElseThrow())
        .containsExactly(number(1), number(3));

    ChunkWindows.Chunk again = windows.register(MAPPING, key -> key.equals("item:1"));
    message(again.low(), new Version(500, 600));
    again.read(List.of(row(3)), List.of());
    assertThat(message(again.high(), new Version(700, 800)).events()).isEmpty();
  }

  @Test
  void changesBeforeTheLowWatermark_dropNothing() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    assertThat(windows.anyOpen()).isFalse();
    windows.observe(change(Kind.DELETE, row(1), Row.EMPTY));
    message(chunk.low(), LOW);
    assertThat(windows.anyOpen()).isTrue();
    chunk.read(List.of(row(1)), List.of());

    assertThat(message(chunk.high(), HIGH).events()).hasSize(1);
    assertThat(windows.anyOpen()).isFalse();
  }

  @Test
  void aTruncateInsideTheWindow_dropsTheWholeChunk() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    windows.observe(change(Kind.TRUNCATE, Row.EMPTY, Row.EMPTY));
    chunk.read(List.of(row(1), row(2)), List.of());

    assertThat(message(chunk.high(), HIGH).events()).isEmpty();
  }

  @Test
  void watermarksOfAnotherRunOrPrefix_andReplays_areIgnored() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    ChunkWindows other = new ChunkWindows("shop");
    ChunkWindows.Chunk foreign = other.register(MAPPING);
    // Same sequence number, another run: must not open or close this run's chunk.
    assertThat(message(foreign.low(), LOW)).isNull();
    assertThat(windows.anyOpen()).isFalse();
    assertThat(
            windows.message(
                ChunkWindows.prefix("billing"), chunk.low().getBytes(StandardCharsets.UTF_8), LOW))
        .isNull();
    assertThat(windows.anyOpen()).isFalse();

    message(chunk.low(), LOW);
    windows.observe(change(Kind.DELETE, row(1), Row.EMPTY));
    message(chunk.low(), LOW); // replayed after a reconnect: the keys seen so far stay
    chunk.read(List.of(row(1), row(2)), List.of());
    assertThat(message(chunk.high(), HIGH).events()).hasSize(1);
    assertThat(message(chunk.high(), HIGH)).as("a replayed high watermark").isNull();

    windows.forget(chunk);
    ChunkWindows.Chunk next = windows.register(MAPPING);
    assertThat(message(chunk.low(), LOW)).isNull();
    assertThat(windows.anyOpen()).as("a forgotten chunk's watermark opens nothing").isFalse();
    assertThat(next.low()).isNotEqualTo(chunk.low());
  }

  @Test
  void aTransactionDecodedBeforeTheLowWatermarkThatTheSnapshotMissed_failsTheChunk() {
    long committing = (7L << 32) | 900; // a 64-bit id; the stream gives its low 32 bits
    windows.decoded(899);
    windows.decoded(900);
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    windows.decoded(901);
    windows.decoded(900); // replayed after a reconnect: the first decoding counts
    chunk.read(List.of(row(1)), List.of(committing, (7L << 32) | 901, (7L << 32) | 950));

    assertThat(message(chunk.high(), HIGH)).isNull();
    ChunkWindows.CommittedUnseen unseen = committedUnseen(chunk);
    assertThat(unseen.decoded()).containsExactly(committing);
    assertThat(unseen.suspected()).isEmpty();
  }

  @Test
  void missedTransactionsDecodedInsideTheWindowOrNotYet_areTheWindowsJob() {
    windows.decoded(899);
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    windows.decoded(901);
    chunk.read(List.of(row(1)), List.of(901L, 950L));

    assertThat(message(chunk.high(), HIGH)).isSameAs(chunk);
    assertThat(chunk.applied).isNotDone();
  }

  @Test
  void aTransactionInProgressWhenLoadsBeganThatNoOneHereDecoded_isSuspectedUntilCleared() {
    windows.suspect(List.of(500L, 501L));
    windows.decoded(501); // decoded by this daemon after all: the windows know where
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    chunk.read(List.of(row(1)), List.of(500L, 501L, 502L));

    assertThat(message(chunk.high(), HIGH)).isNull();
    ChunkWindows.CommittedUnseen unseen = committedUnseen(chunk);
    assertThat(unseen.suspected()).containsExactly(500L);
    assertThat(unseen.decoded()).containsExactly(501L);

    windows.cleared(List.of(500L));
    ChunkWindows.Chunk again = windows.register(MAPPING);
    windows.decoded(700);
    message(again.low(), LOW);
    again.read(List.of(row(1)), List.of(500L, 502L));
    assertThat(message(again.high(), HIGH)).isSameAs(again);
  }

  @Test
  void aTransactionIsForgottenOnlyWhenOneManyIdsLaterTakesItsSlot() {
    windows.decoded(900);
    windows.decoded(900 + ChunkWindows.DECODED_SLOTS - 1);
    ChunkWindows.Chunk kept = windows.register(MAPPING);
    message(kept.low(), LOW);
    kept.read(List.of(row(1)), List.of(900L));
    assertThat(message(kept.high(), HIGH)).as("still remembered").isNull();

    windows.decoded(900 + ChunkWindows.DECODED_SLOTS);
    ChunkWindows.Chunk forgotten = windows.register(MAPPING);
    message(forgotten.low(), LOW);
    forgotten.read(List.of(row(1)), List.of(900L));
    assertThat(message(forgotten.high(), HIGH)).isSameAs(forgotten);
  }

  @Test
  void changesReplayedFromBeforeTheLowWatermark_dropNothing() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    // Debezium reconnected and streams again from before the window.
    windows.observe(new ChangeEvent(ITEMS, Kind.DELETE, row(1), Row.EMPTY, new Version(100, 150)));
    windows.observe(new ChangeEvent(ITEMS, Kind.TRUNCATE, Row.EMPTY, Row.EMPTY, LOW));
    chunk.read(List.of(row(1), row(2)), List.of());

    assertThat(message(chunk.high(), HIGH).events()).hasSize(2);
  }

  @Test
  void aHighWatermarkWithoutItsLowOne_failsTheChunk() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    chunk.read(List.of(row(1)), List.of());

    assertThat(message(chunk.high(), HIGH)).isNull();
    assertThat(chunk.applied).isCompletedExceptionally();
  }

  @Test
  void aChangeThatDoesNotCarryItsKey_failsTheChunk() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);
    windows.observe(
        change(
            Kind.UPDATE,
            Row.EMPTY,
            new Row(Map.of("id", ColumnValue.UNCHANGED, "value", ColumnValue.text("v")))));
    chunk.read(List.of(row(1)), List.of());

    assertThat(message(chunk.high(), HIGH)).isNull();
    assertThat(chunk.applied).isCompletedExceptionally();
  }

  @Test
  void aHighWatermarkBeforeTheRows_failsTheChunkInsteadOfLosingIt() {
    ChunkWindows.Chunk chunk = windows.register(MAPPING);
    message(chunk.low(), LOW);

    assertThat(message(chunk.high(), HIGH)).isNull();
    assertThat(chunk.applied).isCompletedExceptionally();
  }

  @Test
  void abandoningFailsEveryChunkWaiting() {
    ChunkWindows.Chunk first = windows.register(MAPPING);
    ChunkWindows.Chunk second = windows.register(MAPPING);
    windows.abandonAll(new InterruptedException("stopping"));
    assertThat(first.applied).isCompletedExceptionally();
    assertThat(second.applied).isCompletedExceptionally();
  }

  /** Why the chunk failed: a snapshot that missed transactions (the test fails otherwise). */
  private static ChunkWindows.CommittedUnseen committedUnseen(ChunkWindows.Chunk chunk) {
    return (ChunkWindows.CommittedUnseen)
        assertThat(chunk.applied)
            .failsWithin(java.time.Duration.ZERO)
            .withThrowableOfType(java.util.concurrent.ExecutionException.class)
            .havingCause()
            .isInstanceOf(ChunkWindows.CommittedUnseen.class)
            .actual();
  }

  private ChunkWindows.Chunk message(String content, Version version) {
    return windows.message(
        ChunkWindows.prefix("shop"), content.getBytes(StandardCharsets.UTF_8), version);
  }

  private static ChangeEvent change(Kind kind, Row before, Row after) {
    return new ChangeEvent(ITEMS, kind, before, after, new Version(250, 260));
  }

  private static Row row(int id) {
    return new Row(Map.of("id", number(id), "value", ColumnValue.text("v" + id)));
  }

  private static ColumnValue number(int id) {
    return new ColumnValue.Number(Integer.toString(id));
  }
}
