package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.testing.CacheWriterFixture;
import io.cachesync.testing.RedisProbe;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Invariant 2 at the writer: a write or eviction older than the stored version never lands, an
 * equal one does (changes sharing an LSN are real), and the batch's position is stored with it.
 */
class VersionGuardIT {
  private static final TableId USERS = TableId.parse("public.users");
  private static final Version OLD = new Version(0x100, 0x10);
  private static final Version NEW = new Version(0x200, 0x20);

  private static CacheWriterFixture fixture;
  private static RedisProbe redis;
  private static LettuceCacheWriter writer;

  @BeforeAll
  static void start() throws Exception {
    fixture = CacheWriterFixture.direct("cachesync:guard:");
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

  private static Write write(ValueFormat format, String name, Version version) {
    return new Write(
        USERS,
        "user:1",
        format,
        Map.of("id", new ColumnValue.Number("1"), "name", ColumnValue.text(name)),
        version,
        Optional.empty());
  }

  private static BatchOutcome apply(CacheOperation operation, Version position) {
    return writer.apply(List.of(operation), position, Version.ZERO);
  }

  @Test
  void write_olderThanTheStoredVersion_isSkipped() {
    apply(write(ValueFormat.HASH, "new", NEW), NEW);

    BatchOutcome replay = apply(write(ValueFormat.HASH, "old", OLD), OLD);

    assertThat(replay.stale()).isOne();
    assertThat(redis.hash("user:1")).containsEntry("name", "new");
    assertThat(redis.redis().hget("user:1", "__v")).isEqualTo(NEW.text());
  }

  @Test
  void writeJson_olderThanTheStoredVersion_isSkipped() {
    apply(write(ValueFormat.JSON, "new", NEW), NEW);

    apply(write(ValueFormat.JSON, "old", OLD), OLD);

    assertThat(redis.redis().get("user:1"))
        .startsWith("{\"__v\":\"" + NEW.text() + "\"")
        .contains("\"name\":\"new\"");
  }

  @Test
  void write_ofTheSameVersion_applies() {
    apply(write(ValueFormat.HASH, "first", NEW), NEW);

    BatchOutcome again = apply(write(ValueFormat.HASH, "second", NEW), NEW);

    assertThat(again.written()).isOne();
    assertThat(redis.hash("user:1")).containsEntry("name", "second");
  }

  @Test
  void evict_olderThanTheStoredVersion_keepsTheKey() {
    apply(write(ValueFormat.HASH, "new", NEW), NEW);

    apply(new Evict(USERS, "user:1", OLD), OLD);

    assertThat(redis.redis().exists("user:1")).isOne();
  }

  @Test
  void evictTable_keepsKeysWrittenAfterTheTruncate() {
    apply(write(ValueFormat.HASH, "after the truncate", NEW), NEW);
    redis.redis().hset("user:2", Map.of("id", "2", "__v", OLD.text()));

    apply(new EvictTable(USERS, KeyTemplate.parse("user:{id}"), new Version(0x150, 0x8)), NEW);

    assertThat(redis.redis().exists("user:1")).isOne();
    assertThat(redis.redis().exists("user:2")).isZero();
  }

  @Test
  void evictTable_keyUnderThePrefixButNotOfTheTemplate_stays() {
    redis.redis().hset("user:42:profile", Map.of("id", "42", "__v", OLD.text()));
    redis.redis().set("user:42:session", "the application's own");

    apply(
        new EvictTable(USERS, KeyTemplate.parse("user:{id}:profile"), new Version(0x150, 0x8)),
        NEW);

    assertThat(redis.redis().exists("user:42:profile")).isZero();
    assertThat(redis.redis().get("user:42:session")).isEqualTo("the application's own");
  }

  @Test
  void evictTable_everyKeyOfTheTemplate_goesWhateverItHolds() {
    redis.redis().hset("user:2", Map.of("id", "2", "__v", OLD.text()));
    redis.redis().hset("user:3", Map.of("id", "3", "name", "a cache-aside refill, no version"));
    redis.redis().set("user:4", "{\"id\":4}");
    redis.redis().rpush("user:5", "a list where a hash belongs");
    redis.redis().set("user:session:x", "of the template's form: user:{id} reads it");
    redis.redis().set("user:", "not of the template: no id");

    BatchOutcome outcome =
        apply(new EvictTable(USERS, KeyTemplate.parse("user:{id}"), new Version(0x150, 0x8)), NEW);

    assertThat(outcome.evicted()).isEqualTo(5);
    assertThat(redis.keys("user:*")).containsExactly("user:");
  }

  @Test
  void evictTable_evictMode_evictsEveryKeyOfTheTemplate() {
    redis.redis().set("product:a:v", "cached by the application");
    redis.redis().hset("product:b:v", Map.of("name", "cached by the application"));
    redis.redis().set("product:a:session", "not of the template");

    apply(
        new EvictTable(USERS, KeyTemplate.parse("product:{sku}:v"), new Version(0x150, 0x8)), NEW);

    assertThat(redis.keys("product:*")).containsExactly("product:a:session");
  }

  @Test
  void inspectorEvict_keySeenWithoutAVersionAndWrittenSince_stays() throws Exception {
    redis.redis().hset("user:1", "name", "seen by a sweep without a version");
    apply(write(ValueFormat.HASH, "written since", NEW), NEW);
    redis.redis().set("user:2", "the application's");

    try (LettuceCacheInspector inspector =
        LettuceCacheInspector.connect(
            new io.cachesync.config.RedisSettings(fixture.server.uri()))) {
      long evicted = inspector.evict(Map.of("user:1", "", "user:2", ""));

      assertThat(evicted).isOne();
    }
    assertThat(redis.hash("user:1")).containsEntry("name", "written since");
    assertThat(redis.redis().exists("user:2")).isZero();
  }

  @Test
  void apply_storesTheBatchPositionWithItsData() {
    apply(write(ValueFormat.HASH, "new", NEW), NEW);

    assertThat(writer.position()).contains(NEW);
    assertThat(redis.redis().hget("cachesync:guard:position", "version")).isEqualTo(NEW.text());
  }

  @Test
  void apply_olderPositionThanStored_keepsTheStoredOne() {
    apply(write(ValueFormat.HASH, "new", NEW), NEW);

    // A stale daemon's late batch: its data is refused by the guard, its position by the script.
    apply(write(ValueFormat.HASH, "old", OLD), OLD);

    assertThat(writer.position()).contains(NEW);
  }

  @Test
  void apply_redisHoldsLessThanAcknowledged_failsAsRolledBackAndKeepsThePosition() {
    apply(write(ValueFormat.HASH, "old", OLD), OLD);

    // The daemon saw NEW acknowledged, but Redis holds OLD: a failover lost acknowledged batches.
    Version next = new Version(0x300, 0x30);
    assertThatThrownBy(
            () -> writer.apply(List.of(write(ValueFormat.HASH, "next", next)), next, NEW))
        .isInstanceOf(CacheRolledBackException.class)
        .hasMessageContaining("Redis holds position " + OLD.text());
    assertThat(writer.position()).as("left for the restarted stream").contains(OLD);
  }

  @Test
  void apply_redisHoldsNoPositionAfterOneWasAcknowledged_failsAsRolledBack() {
    assertThatThrownBy(() -> writer.apply(List.of(write(ValueFormat.HASH, "new", NEW)), NEW, OLD))
        .isInstanceOf(CacheRolledBackException.class)
        .hasMessageContaining("Redis holds position none");
  }

  @Test
  void initialLoad_olderThanTheStoredVersion_isSkipped() {
    // A daemon paused during an initial load taken before NEW finishes it late.
    Version oldLoad = Version.snapshot(0x150);
    for (ValueFormat format : ValueFormat.values()) {
      redis.redis().flushall();
      apply(write(format, "new", NEW), NEW);

      BatchOutcome late = apply(write(format, "loaded", oldLoad), NEW);

      assertThat(late.stale()).as(format.toString()).isOne();
      assertThat(storedVersion(format)).as(format.toString()).isEqualTo(NEW.text());
    }
  }

  @Test
  void initialLoad_newerThanTheStoredVersion_writes() {
    Version newLoad = Version.snapshot(0x250);
    for (ValueFormat format : ValueFormat.values()) {
      redis.redis().flushall();
      apply(write(format, "new", NEW), NEW);

      BatchOutcome load = apply(write(format, "loaded", newLoad), newLoad);

      assertThat(load.written()).as(format.toString()).isOne();
      assertThat(storedVersion(format)).as(format.toString()).isEqualTo(newLoad.text());
    }
  }

  /**
   * A {@code __v} that is not of the writer's form (32 hex digits), which an application may have
   * written, counts as no version in every script that reads one: compared as a string it would
   * stand above every version and refuse each write and eviction of the key for good.
   */
  @Test
  void aVersionNotOfTheWritersForm_countsAsNone_inEveryScriptThatReadsOne() throws Exception {
    Version load = Version.snapshot(0x150);
    for (String foreign : List.of("zzzz", "ffff", "f".repeat(33), "g" + "f".repeat(31))) {
      for (ValueFormat format : ValueFormat.values()) {
        String label = format + " " + foreign;
        foreign(format, foreign);
        assertThat(apply(write(format, "streamed", OLD), OLD).written()).as(label).isOne();
        assertThat(storedVersion(format)).as(label).isEqualTo(OLD.text());

        foreign(format, foreign);
        assertThat(apply(write(format, "loaded", load), load).written()).as(label).isOne();
        assertThat(storedVersion(format)).as(label).isEqualTo(load.text());

        foreign(format, foreign);
        apply(new Evict(USERS, "user:1", OLD), OLD);
        assertThat(redis.redis().exists("user:1")).as(label).isZero();

        foreign(format, foreign);
        try (LettuceCacheInspector inspector =
            LettuceCacheInspector.connect(
                new io.cachesync.config.RedisSettings(fixture.server.uri()))) {
          assertThat(inspector.versions(List.of("user:1"))).as(label).containsExactly("");
          assertThat(inspector.evict(Map.of("user:1", ""))).as(label).isOne();
        }
      }
    }
  }

  /** The key user:1 as an application might have written it, with {@code __v} = {@code version}. */
  private static void foreign(ValueFormat format, String version) {
    redis.redis().flushall();
    if (format == ValueFormat.HASH) {
      redis.redis().hset("user:1", Map.of("__v", version, "name", "the application's"));
    } else {
      redis.redis().set("user:1", "{\"__v\":\"" + version + "\",\"name\":\"the application's\"}");
    }
  }

  private static String storedVersion(ValueFormat format) {
    return format == ValueFormat.HASH
        ? redis.redis().hget("user:1", "__v")
        : redis.redis().get("user:1").substring(8, 8 + Version.TEXT_LENGTH);
  }
}
