package io.cachesync.metrics;

import io.cachesync.model.TableId;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The progress of one load (the initial load, a resync, newly mapped tables), logged at most every
 * {@link #EVERY} while it runs: rows done, the estimated total, rows per second and the time left.
 * Not thread-safe: fed by the thread that applies batches, started and ended by the load's owner
 * under the caller's lock.
 */
final class LoadProgress {
  private static final Logger LOG = LoggerFactory.getLogger(LoadProgress.class);

  /**
   * The longest time between two progress lines: 10 s (the system property {@code
   * cachesync.loadProgressSeconds} shortens it for tests).
   */
  static final Duration EVERY =
      Duration.ofSeconds(Long.getLong("cachesync.loadProgressSeconds", 10));

  private final String name;
  private final Map<TableId, Long> estimates;
  private final long startedNanos;
  private long rows;
  private long loggedNanos;

  /**
   * @param estimates the estimated rows per table (PostgreSQL's statistics), -1 when unknown
   */
  LoadProgress(String name, Map<TableId, Long> estimates, long nowNanos) {
    this.name = name;
    this.estimates = new TreeMap<>(estimates);
    this.startedNanos = nowNanos;
    this.loggedNanos = nowNanos;
  }

  void rowsLoaded(long count, long nowNanos) {
    rows += count;
    if (nowNanos - loggedNanos >= EVERY.toNanos()) {
      loggedNanos = nowNanos;
      LOG.info("{}", line(nowNanos));
    }
  }

  /** The estimated total, or -1 when some table's is unknown. */
  long estimate() {
    long total = 0;
    for (long estimate : estimates.values()) {
      if (estimate < 0) {
        return -1;
      }
      total += estimate;
    }
    return total;
  }

  long rows() {
    return rows;
  }

  /**
   * A progress line: {@code Load resync-42: 120000 of about 1000000 rows (12%), 40000 rows/s, about
   * 22 s left}.
   */
  String line(long nowNanos) {
    double seconds = Math.max(1e-9, (nowNanos - startedNanos) / 1e9);
    long rate = Math.round(rows / seconds);
    long estimate = estimate();
    StringBuilder line = new StringBuilder("Load ").append(name).append(": ").append(rows);
    if (estimate >= 0) {
      line.append(" of about ").append(estimate).append(" rows");
      if (estimate > 0) {
        line.append(" (").append(Math.min(100, rows * 100 / estimate)).append("%)");
      }
    } else {
      line.append(" rows (total unknown: run ANALYZE on ").append(unknownTables()).append(")");
    }
    line.append(", ").append(rate).append(" rows/s");
    if (estimate >= 0 && rate > 0) {
      long left = Math.max(0, estimate - rows) / rate;
      line.append(", about ").append(left).append(" s left");
    }
    return line.toString();
  }

  private String unknownTables() {
    return estimates.entrySet().stream()
        .filter(e -> e.getValue() < 0)
        .map(e -> e.getKey().toString())
        .reduce((a, b) -> a + ", " + b)
        .orElse("");
  }
}
