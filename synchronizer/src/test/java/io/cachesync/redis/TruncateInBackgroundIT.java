package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.testing.CacheWriterFixture;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A TRUNCATE's keys are found by a SCAN of the whole keyspace: a batch evicts them for a short
 * budget only, records the rest in Redis with the TRUNCATE's position, and the writer finishes them
 * in the background while the stream goes on; a record found later (a restart, a failover that lost
 * evictions) is finished too.
 */
class TruncateInBackgroundIT {
  private static final TableId LINES = TableId.parse("public.order_lines");
  private static final KeyTemplate TEMPLATE = KeyTemplate.parse("line:{order_id}");
  private static final Version LOADED = new Version(0x100, 0x10);
  private static final Version TRUNCATE = new Version(0x200, 0x28);
  private static final Version AFTER = new Version(0x200, 0x40);
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void apply_truncateInALargeKeyspace_returnsBeforeEveryKeyIsSeenAndTheRestIsEvictedMeanwhile()
      throws Exception {
    System.setProperty(LettuceCacheWriter.TRUNCATE_BUDGET_MILLIS, "0");
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:background:")) {
      populate(fixture, "line:", 5_000, LOADED);
      populate(fixture, "other:", 20_000, LOADED);
      fixture.redis.redis().hset("line:after", Map.of("__v", AFTER.text()));

      BatchOutcome outcome =
          fixture.writer.apply(
              List.of(new EvictTable(LINES, TEMPLATE, TRUNCATE)), TRUNCATE, Version.ZERO);

      assertThat(outcome.evicted()).as("evicted before the batch returned").isLessThan(5_000);
      assertThat(fixture.writer.position()).contains(TRUNCATE);
      await("the background evictions")
          .atMost(WAIT)
          .untilAsserted(
              () -> assertThat(fixture.redis.keys("line:*")).containsExactly("line:after"));
      await("the record's removal")
          .atMost(WAIT)
          .until(() -> fixture.redis.redis().exists("cachesync:background:truncates") == 0);
      assertThat(fixture.redis.redis().dbsize()).isEqualTo(20_000 + 1 + 1);
    } finally {
      System.clearProperty(LettuceCacheWriter.TRUNCATE_BUDGET_MILLIS);
    }
  }

  @Test
  void writer_findsATruncateLeftPending_finishesIt() throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:pending:")) {
      // What a daemon stopped during a TRUNCATE's background evictions left, or a failover that
      // lost some of them: the record, and keys of the table older than the TRUNCATE.
      populate(fixture, "line:", 50, LOADED);
      fixture.redis.redis().hset("line:after", Map.of("__v", AFTER.text()));
      fixture
          .redis
          .redis()
          .hset(
              "cachesync:pending:truncates",
              LINES.toString(),
              TRUNCATE.text() + " " + TEMPLATE.text());

      await("the pending TRUNCATE finished")
          .atMost(WAIT)
          .untilAsserted(
              () -> assertThat(fixture.redis.keys("line:*")).containsExactly("line:after"));
      await("the record's removal")
          .atMost(WAIT)
          .until(() -> fixture.redis.redis().exists("cachesync:pending:truncates") == 0);
    }
  }

  @Test
  void writer_findsATruncateLeftPendingInTheVersionedOnlyForm_evictsEveryKeyAndClearsIt()
      throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:plus:")) {
      // The record form of the release that spared keys without a version ('+' after the
      // version): finished like the plain form, every key of the template going, and removed.
      populate(fixture, "line:", 50, LOADED);
      fixture.redis.redis().hset("line:51", Map.of("name", "a cache-aside refill, no version"));
      fixture.redis.redis().rpush("line:52", "a list");
      fixture.redis.redis().hset("line:after", Map.of("__v", AFTER.text()));
      fixture
          .redis
          .redis()
          .hset(
              "cachesync:plus:truncates",
              LINES.toString(),
              TRUNCATE.text() + "+" + TEMPLATE.text());

      await("the pending TRUNCATE finished")
          .atMost(WAIT)
          .untilAsserted(
              () -> assertThat(fixture.redis.keys("line:*")).containsExactly("line:after"));
      await("the record's removal")
          .atMost(WAIT)
          .until(() -> fixture.redis.redis().exists("cachesync:plus:truncates") == 0);
    }
  }

  /** {@code count} hashes {@code <prefix>1...}, written in one script. */
  private static void populate(
      CacheWriterFixture fixture, String prefix, int count, Version version) {
    fixture
        .redis
        .redis()
        .eval(
            "for i = 1, tonumber(ARGV[2]) do redis.call('HSET', ARGV[1] .. i, '__v', ARGV[3]) end",
            ScriptOutputType.STATUS,
            new String[0],
            prefix,
            Integer.toString(count),
            version.text());
  }
}
