package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangeEvent.Kind;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.Mapping;
import io.cachesync.model.Row;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which changes the synchronizer recognises as replays, and the positions it stores. */
class SynchronizerTest {
  private static final TableId USERS = TableId.parse("public.users");
  private static final Mapping MAPPING =
      new Mapping(
          List.of(
              new TableMapping(
                  USERS,
                  KeyTemplate.parse("user:{id}"),
                  ValueFormat.HASH,
                  SyncMode.WRITE,
                  List.of(),
                  Optional.empty())));

  /** Records what it was asked to apply. */
  private static class RecordingWriter implements CacheWriter {
    final List<Version> positions = new ArrayList<>();
    final List<Version> written = new ArrayList<>();

    @Override
    public BatchOutcome apply(
        List<CacheOperation> operations, Version position, Version acknowledged) {
      positions.add(position);
      operations.forEach(op -> written.add(((CacheOperation.Write) op).version()));
      return new BatchOutcome(operations.size(), 0, 0, List.of());
    }

    @Override
    public Optional<Version> position() {
      return Optional.empty();
    }

    @Override
    public void close() {}
  }

  private static ChangeEvent update(int id, Version version) {
    Map<String, ColumnValue> columns = new LinkedHashMap<>();
    columns.put("id", new ColumnValue.Number(Integer.toString(id)));
    columns.put("name", ColumnValue.text("user " + id));
    return new ChangeEvent(USERS, Kind.UPDATE, Row.EMPTY, new Row(columns), version);
  }

  /** One transaction (after commit 0x100) spread over batches, as Debezium delivers a large one. */
  private static List<ChangeEvent> changes(int... lsns) {
    List<ChangeEvent> batch = new ArrayList<>();
    for (int lsn : lsns) {
      batch.add(update(lsn, new Version(0x100, lsn)));
    }
    return batch;
  }

  private static Version last(List<ChangeEvent> batch) {
    return batch.get(batch.size() - 1).version();
  }

  @Test
  void accept_replayAcrossSeveralBatches_skipsEveryReplayedChange() throws Exception {
    RecordingWriter writer = new RecordingWriter();
    Synchronizer synchronizer =
        new Synchronizer(MAPPING, writer, Optional.empty(), rolledBack -> {});
    List<ChangeEvent> first = changes(0x110, 0x120);
    List<ChangeEvent> second = changes(0x130, 0x140);
    synchronizer.accept(first, last(first));
    synchronizer.accept(second, last(second));

    // Debezium reconnects and delivers the same changes again, split differently.
    synchronizer.accept(changes(0x110), new Version(0x100, 0x110));
    synchronizer.accept(changes(0x120, 0x130), new Version(0x100, 0x130));

    assertThat(writer.written)
        .as("only the first delivery is written")
        .containsExactly(
            new Version(0x100, 0x110),
            new Version(0x100, 0x120),
            new Version(0x100, 0x130),
            new Version(0x100, 0x140));
    assertThat(writer.positions)
        .as("the stored position never goes back")
        .containsExactly(
            new Version(0x100, 0x120),
            new Version(0x100, 0x140),
            new Version(0x100, 0x140),
            new Version(0x100, 0x140));
    assertThat(synchronizer.counts().replayed()).isEqualTo(3);
    assertThat(synchronizer.acknowledged()).isEqualTo(new Version(0x100, 0x140));
  }

  @Test
  void accept_afterRestart_skipsBelowTheStoredPositionAndAppliesItAgain() throws Exception {
    RecordingWriter writer = new RecordingWriter();
    Synchronizer synchronizer =
        new Synchronizer(MAPPING, writer, Optional.of(new Version(0x100, 0x130)), rolledBack -> {});

    synchronizer.accept(changes(0x120, 0x130, 0x140), new Version(0x100, 0x140));

    // At exactly the stored position it is applied again: a key move's two halves share one.
    assertThat(writer.written)
        .containsExactly(new Version(0x100, 0x130), new Version(0x100, 0x140));
    assertThat(writer.positions).containsExactly(new Version(0x100, 0x140));
  }

  @Test
  void accept_failureAfterPartOfTheBatch_retriesOnlyTheRestAgainstWhatThePartStored()
      throws Exception {
    List<List<Version>> calls = new ArrayList<>();
    List<Version> checkedAgainst = new ArrayList<>();
    Version partStored = new Version(0x100, 0x12f);
    CacheWriter failsOnce =
        new RecordingWriter() {
          @Override
          public BatchOutcome apply(
              List<CacheOperation> operations, Version position, Version before) {
            calls.add(
                operations.stream().map(op -> ((CacheOperation.Write) op).version()).toList());
            checkedAgainst.add(before);
            if (calls.size() == 1) {
              throw new RedisUnavailableException("cut", null).afterApplying(2, partStored);
            }
            return BatchOutcome.NONE;
          }
        };
    Synchronizer synchronizer =
        new Synchronizer(MAPPING, failsOnce, Optional.empty(), rolledBack -> {});

    synchronizer.accept(changes(0x110, 0x120, 0x130), new Version(0x100, 0x130));

    assertThat(calls)
        .containsExactly(
            List.of(
                new Version(0x100, 0x110), new Version(0x100, 0x120), new Version(0x100, 0x130)),
            List.of(new Version(0x100, 0x130)));
    // A failover may have lost what the first attempt stored: the retry must notice.
    assertThat(checkedAgainst).containsExactly(Version.ZERO, partStored);
  }

  @Test
  void accept_redisLostAcknowledgedBatches_tellsAndConfirmsNothing() throws Exception {
    Version stored = new Version(0x100, 0x130);
    List<Version> acknowledged = new ArrayList<>();
    CacheWriter rolledBack =
        new RecordingWriter() {
          @Override
          public BatchOutcome apply(
              List<CacheOperation> operations, Version position, Version before) {
            acknowledged.add(before);
            throw new CacheRolledBackException(before, "none");
          }
        };
    List<CacheRolledBackException> told = new ArrayList<>();
    Synchronizer synchronizer =
        new Synchronizer(MAPPING, rolledBack, Optional.of(stored), told::add);

    assertThatThrownBy(() -> synchronizer.accept(changes(0x140), new Version(0x100, 0x140)))
        .isInstanceOf(InterruptedException.class);
    assertThat(acknowledged).as("checked against the stored position").containsExactly(stored);
    assertThat(told).hasSize(1);
    assertThat(synchronizer.acknowledged()).as("nothing confirmed past it").isEqualTo(stored);
  }
}
