package io.cachesync.status;

import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.status.StatusFacts.Estimate;
import io.cachesync.status.StatusFacts.TableKeys;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * How many keys each mapped table has in Redis, found fast on any size of database: counted exactly
 * (a SCAN of each table's key prefix, matched against its key template) when the database is small
 * enough to scan within the time budget, otherwise estimated from random keys (RANDOMKEY) matched
 * against every template and scaled by DBSIZE. A key counts when its table's template reads it,
 * with or without cachesync's version: reading each value's version would cost more than an
 * estimate is worth, so an application's key of the template's form is counted too.
 */
public final class KeyCountEstimator {
  /** Up to this many keys in the database, the keys are counted exactly. */
  static final long EXACT_UP_TO = 50_000;

  /** How many random keys an estimate is drawn from. */
  static final int SAMPLE = 2_000;

  /** How long the exact count may take before the estimate is used instead. */
  static final Duration BUDGET = Duration.ofMillis(1_500);

  private final LettuceCacheInspector redis;
  private final long exactUpTo;

  public KeyCountEstimator(LettuceCacheInspector redis) {
    this(redis, EXACT_UP_TO);
  }

  /** With another limit for exact counts, for tests. */
  KeyCountEstimator(LettuceCacheInspector redis, long exactUpTo) {
    this.redis = redis;
    this.exactUpTo = exactUpTo;
  }

  /**
   * The keys of each table.
   *
   * @param keys the number of keys in the database (DBSIZE)
   */
  public List<TableKeys> count(List<TableMapping> tables, long keys) {
    if (keys <= exactUpTo) {
      long deadline = System.nanoTime() + BUDGET.toNanos();
      List<TableKeys> counted = new ArrayList<>();
      for (TableMapping table : tables) {
        KeyTemplate template = table.key();
        OptionalLong count =
            redis.countKeys(
                template.prefixGlob(), key -> template.match(key).isPresent(), deadline);
        if (count.isEmpty()) {
          return sample(tables, keys);
        }
        counted.add(
            new TableKeys(
                table.table().toString(), template.text(), count.getAsLong(), Estimate.EXACT, 0));
      }
      return counted;
    }
    return sample(tables, keys);
  }

  private List<TableKeys> sample(List<TableMapping> tables, long keys) {
    List<String> drawn = redis.randomKeys(SAMPLE);
    List<TableKeys> estimated = new ArrayList<>();
    for (TableMapping table : tables) {
      long matching = drawn.stream().filter(key -> table.key().match(key).isPresent()).count();
      long estimate = drawn.isEmpty() ? 0 : Math.round((double) matching * keys / drawn.size());
      estimated.add(
          new TableKeys(
              table.table().toString(),
              table.key().text(),
              estimate,
              Estimate.SAMPLED,
              drawn.size()));
    }
    return estimated;
  }
}
