package io.cachesync.redis;

import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.sync.BatchOutcome;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Evicts a truncated table's keys: finds the keys under its literal prefix with SCAN, and deletes
 * each that matches the table's whole key template with the guarded evict.lua, so that a key
 * written after the TRUNCATE stays, and so does a key the application keeps under the same prefix
 * that the template does not match. A key the template matches goes whatever it holds, with or
 * without cachesync's version, of any type (see {@link EvictTable}).
 */
final class TableEvictor {
  private static final Logger LOG = LoggerFactory.getLogger(TableEvictor.class);
  private static final int SCAN_COUNT = 1_000;

  private final StatefulRedisConnection<String, String> pipeline;
  private final RedisCommands<String, String> direct;
  private final WriterScripts scripts;
  private final WriterLeaseFence fence;

  /**
   * @param pipeline the connection the evictions are sent on, flushed here
   * @param direct the connection SCAN runs on
   */
  TableEvictor(
      StatefulRedisConnection<String, String> pipeline,
      RedisCommands<String, String> direct,
      WriterScripts scripts,
      WriterLeaseFence fence) {
    this.fence = fence;
    this.pipeline = pipeline;
    this.direct = direct;
    this.scripts = scripts;
  }

  /** Evicts every key of the truncated table. */
  BatchOutcome evict(EvictTable truncate) {
    return evict(truncate, Long.MAX_VALUE).orElseThrow();
  }

  /**
   * Evicts the truncated table's keys until done or until {@code budgetNanos} have passed, a SCAN
   * page at least.
   *
   * @return what was done when every key was seen; empty when the deadline came first
   */
  Optional<BatchOutcome> evict(EvictTable truncate, long budgetNanos) {
    long start = System.nanoTime();
    ScanArgs match = ScanArgs.Builder.matches(truncate.keyGlob()).limit(SCAN_COUNT);
    long evicted = 0;
    long stale = 0;
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      // Each page is fenced by the writer's lease (see WriterLeaseFence).
      fence.require(direct);
      var page = direct.scan(cursor, match);
      List<RedisFuture<String>> results = new ArrayList<>(page.getKeys().size());
      for (String key : page.getKeys()) {
        if (!truncate.owns(key)) {
          // Under the table's prefix but not of its template: the application's, or another's.
          continue;
        }
        results.add(
            pipeline
                .async()
                .dispatch(
                    CommandType.EVALSHA,
                    new StatusOutput<>(StringCodec.UTF8),
                    scripts.call("evict", key).add(truncate.version().text())));
      }
      pipeline.flushCommands();
      for (RedisFuture<String> result : results) {
        String status = LettuceClients.await(result);
        if (status.equals("evicted")) {
          evicted++;
        } else if (status.equals("stale")) {
          stale++;
        }
      }
      cursor = page;
      if (!cursor.isFinished() && System.nanoTime() - start > budgetNanos) {
        LOG.info(
            "TRUNCATE of {}: evicted {} keys so far; the rest are evicted in the background",
            truncate.table(),
            evicted);
        return Optional.empty();
      }
    } while (!cursor.isFinished());
    LOG.info(
        "TRUNCATE of {}: evicted {} keys of '{}'", truncate.table(), evicted, truncate.template());
    return Optional.of(new BatchOutcome(0, evicted, stale, List.of()));
  }
}
