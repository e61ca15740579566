package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.testing.CacheWriterFixture;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.TcpProxy;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A TRUNCATE's evictions run outside any transaction, between two that store positions. A failover
 * to a replica that never received them must not go unnoticed: the part of the batch after them is
 * checked against the position stored once they were done, also when that part is a retry. Found by
 * {@code FaultScheduleIT}'s Sentinel schedule, which once ended with 59 keys of truncated rows.
 */
class TruncateFailoverIT {
  private static final TableId LINES = TableId.parse("public.order_lines");
  private static final TableId USERS = TableId.parse("public.users");
  private static final String STATE = "cachesync:truncate:";
  private static final Version LOADED = new Version(0x100, 0x10);
  private static final Version TRUNCATE = new Version(0x200, 0x28);
  private static final Version AFTER = new Version(0x200, 0x40);

  private CacheWriterFixture fixture;
  private RedisProbe redis;
  private TcpProxy proxy;
  private LettuceCacheWriter writer;

  @BeforeEach
  void setUp() throws Exception {
    fixture = CacheWriterFixture.throughProxy(STATE);
    redis = fixture.redis;
    proxy = fixture.proxy;
    writer = fixture.writer;
  }

  @AfterEach
  void tearDown() {
    fixture.close();
  }

  @Test
  void evictionsLostAfterTheyWereAcknowledged_retryFailsAsRolledBack() {
    writer.apply(List.of(line(1, LOADED), line(2, LOADED)), LOADED, Version.ZERO);
    // The master dies just before the part after the TRUNCATE arrives: the evictions are done.
    proxy.cutBefore("user:7");
    List<CacheOperation> batch =
        List.of(
            new EvictTable(LINES, KeyTemplate.parse("line:{order_id}"), TRUNCATE), user(7, AFTER));

    RedisUnavailableException failure =
        catchThrowableOfType(
            RedisUnavailableException.class, () -> writer.apply(batch, AFTER, LOADED));

    assertThat(failure.applied()).as("the TRUNCATE is done").isOne();
    assertThat(failure.acknowledged()).isEqualTo(TRUNCATE);
    assertThat(redis.keys("line:*")).isEmpty();

    // The replica promoted in its place had the position stored before the evictions (just below
    // the TRUNCATE's) but not the evictions.
    redis.redis().hset("line:1", Map.of("order_id", "1", "__v", LOADED.text()));
    redis.redis().hset(STATE + "position", "version", TRUNCATE.justBefore().text());
    proxy.restore();

    // Redis unavailable (the writer not reconnected yet) propagates and is tried again; the
    // rollback is what the retry must end with.
    CacheRolledBackException rolledBack =
        fixture.afterReconnecting(
            () -> {
              try {
                writer.apply(
                    batch.subList(failure.applied(), batch.size()), AFTER, failure.acknowledged());
                return null;
              } catch (CacheRolledBackException e) {
                return e;
              }
            });
    assertThat(rolledBack)
        .as("the retry fails as rolled back")
        .isNotNull()
        .hasMessageContaining(TRUNCATE.justBefore().text());
    assertThat(writer.position())
        .as("left for the restarted stream, which applies the TRUNCATE again")
        .contains(TRUNCATE.justBefore());
  }

  @Test
  void batchWithATruncate_storesThePositionJustBelowItThenItsOwn() {
    writer.apply(List.of(line(1, LOADED)), LOADED, Version.ZERO);
    // The master dies as the TRUNCATE's evictions begin: what the daemon restarts from must
    // apply the TRUNCATE again, and nothing before it.
    proxy.cutBefore("SCAN");

    catchThrowableOfType(
        RedisUnavailableException.class,
        () ->
            writer.apply(
                List.of(new EvictTable(LINES, KeyTemplate.parse("line:{order_id}"), TRUNCATE)),
                TRUNCATE,
                LOADED));

    proxy.restore();
    assertThat(fixture.afterReconnecting(writer::position)).contains(TRUNCATE.justBefore());
    assertThat(redis.keys("line:*")).containsExactly("line:1");
  }

  private static Write line(int order, Version version) {
    return row(LINES, "line:", "order_id", order, version);
  }

  private static Write user(int id, Version version) {
    return row(USERS, "user:", "id", id, version);
  }

  /** A hash write of a row whose only column is its key column. */
  private static Write row(TableId table, String prefix, String column, int id, Version version) {
    return new Write(
        table,
        prefix + id,
        ValueFormat.HASH,
        Map.of(column, new ColumnValue.Number(Integer.toString(id))),
        version,
        Optional.empty());
  }
}
