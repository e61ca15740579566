package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.TableId;
import io.cachesync.model.Ttl;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.testing.CacheWriterFixture;
import io.cachesync.testing.RedisProbe;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A streamed update of a cached hash leaves exactly the row's projection: its unchanged TOAST
 * column kept, no field of a column that became NULL, no field that is no column, no TTL the
 * mapping no longer asks for.
 */
class HashWriteIT {
  private static final TableId DOCS = TableId.parse("public.docs");
  private static final Version FIRST = new Version(0x100, 0x10);
  private static final Version SECOND = new Version(0x200, 0x20);
  private static final Optional<Ttl> HOUR = Optional.of(new Ttl(Duration.ofHours(1)));

  private static CacheWriterFixture fixture;
  private static RedisProbe redis;
  private static LettuceCacheWriter writer;

  @BeforeAll
  static void start() throws Exception {
    fixture = CacheWriterFixture.direct("cachesync:hash:");
    redis = fixture.redis;
    writer = fixture.writer;
  }

  @AfterAll
  static void stop() {
    fixture.close();
  }

  @BeforeEach
  void flush() {
    redis.redis().flushall();
  }

  @Test
  void update_keepsTheUnchangedColumnAndDropsNullsAndStrayFields() {
    write(Map.of("id", number(1), "title", text("draft"), "body", text("long body")), FIRST);
    redis.redis().hset("doc:1", "written_by_hand", "x");

    Map<String, ColumnValue> update = new LinkedHashMap<>();
    update.put("id", number(1));
    update.put("title", ColumnValue.NULL);
    update.put("body", ColumnValue.UNCHANGED);
    write(update, SECOND);

    assertThat(redis.redis().hgetall("doc:1"))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("__v", SECOND.text(), "id", "1", "body", "long body"));
  }

  @Test
  void update_withAnUnchangedColumn_keepsItAndTakesTheTtlAsked() {
    writer.apply(
        List.of(doc("doc:1", Map.of("id", number(1), "body", text("long body")), FIRST, HOUR)),
        FIRST,
        Version.ZERO);
    redis.redis().hset("doc:1", "written_by_hand", "x");

    write(Map.of("id", number(1), "title", text("t"), "body", ColumnValue.UNCHANGED), SECOND);

    assertThat(redis.redis().ttl("doc:1")).as("no TTL").isEqualTo(-1);
    assertThat(redis.redis().hgetall("doc:1"))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("__v", SECOND.text(), "id", "1", "title", "t", "body", "long body"));

    writer.apply(
        List.of(
            doc(
                "doc:1",
                Map.of("id", number(1), "title", text("u"), "body", ColumnValue.UNCHANGED),
                new Version(0x300, 0x30),
                HOUR)),
        new Version(0x300, 0x30),
        SECOND);

    assertThat(redis.redis().ttl("doc:1")).as("the mapping's TTL").isPositive();
    assertThat(redis.redis().hgetall("doc:1"))
        .containsEntry("title", "u")
        .containsEntry("body", "long body");
  }

  @Test
  void update_withAnUnchangedColumnAtAnOlderVersion_changesNothing() {
    write(Map.of("id", number(1), "title", text("new"), "body", text("long body")), SECOND);

    write(Map.of("id", number(1), "title", text("old"), "body", ColumnValue.UNCHANGED), FIRST);

    assertThat(redis.redis().hgetall("doc:1"))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("__v", SECOND.text(), "id", "1", "title", "new", "body", "long body"));
  }

  @Test
  void update_unchangedColumnNotCached_evicts() {
    write(Map.of("id", number(1), "title", text("draft")), FIRST);

    write(Map.of("id", number(1), "body", ColumnValue.UNCHANGED), SECOND);

    assertThat(redis.redis().exists("doc:1")).isZero();
  }

  @Test
  void update_withoutTtl_removesTheOneStored() {
    writer.apply(List.of(doc("doc:1", Map.of("id", number(1)), FIRST, HOUR)), FIRST, Version.ZERO);
    assertThat(redis.redis().ttl("doc:1")).isPositive();

    write(Map.of("id", number(1), "title", text("kept forever")), SECOND);

    assertThat(redis.redis().ttl("doc:1")).as("no TTL").isEqualTo(-1);
    assertThat(redis.hash("doc:1")).containsEntry("title", "kept forever");
  }

  @Test
  void initialLoad_replacesWhatWasCachedWithTheRowsProjectionAndTtl() {
    redis.redis().hset("doc:1", Map.of("__v", SECOND.text(), "stale", "x", "title", "old"));
    Version load = Version.snapshot(0x300);
    Map<String, ColumnValue> row = new LinkedHashMap<>();
    row.put("id", number(1));
    row.put("title", ColumnValue.NULL);
    row.put("body", text("loaded"));

    var outcome =
        writer.apply(
            List.of(
                doc("doc:1", row, load, HOUR),
                doc("doc:2", Map.of("id", number(2)), load, Optional.empty())),
            FIRST,
            Version.ZERO);

    assertThat(outcome.written()).isEqualTo(2);
    assertThat(redis.redis().hgetall("doc:1"))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("__v", load.text(), "id", "1", "body", "loaded"));
    assertThat(redis.redis().ttl("doc:1")).isPositive();
    assertThat(redis.redis().hgetall("doc:2"))
        .containsExactlyInAnyOrderEntriesOf(Map.of("__v", load.text(), "id", "2"));
    assertThat(redis.redis().ttl("doc:2")).isEqualTo(-1);
  }

  @Test
  void batch_manyWideRows_splitsIntoCallsRedisCanUnpack() {
    // 100 rows of 1,500 columns: 64 of them in one call would be 192,000 values, past what Redis's
    // Lua stack takes at once. Text outside ASCII checks the packed lengths are bytes, not chars.
    List<Write> writes = new java.util.ArrayList<>();
    for (int row = 1; row <= 100; row++) {
      Map<String, ColumnValue> values = new LinkedHashMap<>();
      values.put("id", number(row));
      for (int column = 1; column < 1_500; column++) {
        values.put("c" + column, text("é" + row + "✓" + column));
      }
      writes.add(doc("doc:" + row, values, FIRST, Optional.empty()));
    }

    var outcome = writer.apply(List.copyOf(writes), FIRST, Version.ZERO);

    assertThat(outcome.written()).isEqualTo(100);
    assertThat(outcome.failures()).isEmpty();
    assertThat(redis.hash("doc:100")).hasSize(1_500).containsEntry("c1499", "é100✓1499");
    assertThat(redis.redis().hgetall("doc:1"))
        .containsEntry("c1", "é1✓1")
        .containsEntry("__v", FIRST.text());
  }

  /**
   * A batch applied again (a lost EXEC reply, a cluster master that failed its part) after a later
   * change re-created the key a move had kept a TOASTed column from: the moved key holds the move
   * already and keeps it, instead of taking the other row's column (both formats).
   */
  @Test
  void aMoveAppliedAgain_afterItsOldKeyWasReCreated_keepsWhatItWrote() {
    for (ValueFormat format : List.of(ValueFormat.HASH, ValueFormat.JSON)) {
      redis.redis().flushall();
      Version third = new Version(0x300, 0x30);
      writer.apply(
          List.of(
              new Write(
                  DOCS,
                  "doc:1",
                  format,
                  Map.of("id", number(1), "body", text("row one")),
                  FIRST,
                  Optional.empty())),
          FIRST,
          Version.ZERO);
      Map<String, ColumnValue> moved = new LinkedHashMap<>();
      moved.put("id", number(2));
      moved.put("body", ColumnValue.UNCHANGED);
      List<CacheOperation> move =
          List.of(
              new Write(DOCS, "doc:2", format, moved, SECOND, Optional.empty())
                  .mergingFrom("doc:1"),
              new CacheOperation.Evict(DOCS, "doc:1", SECOND));
      writer.apply(move, SECOND, FIRST);
      // A later change puts another row at the old key.
      writer.apply(
          List.of(
              new Write(
                  DOCS,
                  "doc:1",
                  format,
                  Map.of("id", number(1), "body", text("another row")),
                  third,
                  Optional.empty())),
          third,
          SECOND);

      writer.apply(move, SECOND, Version.ZERO);

      String held =
          format == ValueFormat.HASH
              ? redis.redis().hget("doc:2", "body")
              : redis.redis().get("doc:2");
      assertThat(held).as(format.toString()).contains("row one").doesNotContain("another row");
    }
  }

  private static Write doc(
      String key, Map<String, ColumnValue> values, Version version, Optional<Ttl> ttl) {
    return new Write(DOCS, key, ValueFormat.HASH, values, version, ttl);
  }

  private static void write(Map<String, ColumnValue> values, Version version) {
    writer.apply(List.of(doc("doc:1", values, version, Optional.empty())), version, Version.ZERO);
  }

  private static ColumnValue number(long value) {
    return new ColumnValue.Number(Long.toString(value));
  }

  private static ColumnValue text(String value) {
    return ColumnValue.text(value);
  }
}
