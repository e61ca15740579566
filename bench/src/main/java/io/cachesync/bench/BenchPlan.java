package io.cachesync.bench;

import java.time.Duration;
import java.util.List;

/**
 * The sizes of one run.
 *
 * @param narrowInserts W1's backlog: single-row inserts
 * @param wideUpdates W2's backlog: single-row updates
 * @param wideRows the rows W2 updates (skewed)
 * @param deletes W3's backlog: single-row deletes
 * @param mixedChanges W4's backlog, in row changes (15 per 4 transactions)
 * @param largeTransactionRows the rows of W5's single transaction
 * @param resyncRows the rows W6 resyncs
 * @param metricsPairs rounds of the metrics cost measurement, each a W1 catch-up with metrics on
 *     and one with metrics off
 * @param metricsChanges the backlog of each of those catch-ups: single-row inserts, as W1's
 * @param clusterInserts C1's backlog per round: single-row inserts, as W1's
 * @param clusterMixedChanges C4's backlog per round, in row changes, as W4's
 * @param clusterRounds how many backlogs of C1 and C4 each daemon (on one master, on the cluster)
 *     drains in turn; the first with the JIT still cold, the later ones warm
 * @param clusterRedisShare the share of one core each redis-server is held to (a CPU quota) in one
 *     more warm round of C1 and C4, as a master that serves the application's reads has only part
 *     of a core for the synchronizer's writes; 0 for no such round
 * @param lagWorkloads the workloads whose lag is measured
 * @param warmWorkloads the workloads whose warm catch-up is measured: a second backlog drained by
 *     the daemon and Debezium alone, each resumed (SIGCONT) warm and caught up
 * @param firstStartRows the rows of W7's table (the daemon's first start on it) and W8's (verify of
 *     it)
 * @param verifyLimit how long each of W8's verify runs may take before it is stopped and reported
 *     as not done
 * @param lagRates the fixed offered rates of the lag measurement, changes per second
 * @param lagDrainShare the share of cachesync's catch-up rate of the workload (warm where measured)
 *     offered after the fixed rates
 * @param lagPerRate how long each rate is offered
 * @param naiveWriteBudget how long the naive synchronizer writes per workload; its rate is measured
 *     on what it wrote in that time, and the rest of the workload is only counted
 * @param redisBenchmarkRequests requests per {@code redis-benchmark} run
 * @param verifySample rows and keys per table the correctness check compares; 0 for all
 * @param timeout the longest any single step may take
 */
public record BenchPlan(
    String name,
    long narrowInserts,
    long wideUpdates,
    long wideRows,
    long deletes,
    long mixedChanges,
    long largeTransactionRows,
    long resyncRows,
    long firstStartRows,
    Duration verifyLimit,
    int metricsPairs,
    long metricsChanges,
    long clusterInserts,
    long clusterMixedChanges,
    int clusterRounds,
    double clusterRedisShare,
    List<String> warmWorkloads,
    List<String> lagWorkloads,
    List<Integer> lagRates,
    double lagDrainShare,
    Duration lagPerRate,
    Duration naiveWriteBudget,
    int redisBenchmarkRequests,
    int verifySample,
    Duration timeout) {

  public BenchPlan {
    if (metricsPairs < 1) {
      throw new IllegalArgumentException("metricsPairs " + metricsPairs + " < 1");
    }
    if (clusterRounds < 1) {
      throw new IllegalArgumentException("clusterRounds " + clusterRounds + " < 1");
    }
    if (clusterRedisShare < 0 || clusterRedisShare > 1) {
      throw new IllegalArgumentException(
          "clusterRedisShare " + clusterRedisShare + " not in [0, 1]");
    }
    if (lagDrainShare <= 0 || lagDrainShare > 1) {
      throw new IllegalArgumentException("lagDrainShare " + lagDrainShare + " not in (0, 1]");
    }
    warmWorkloads = List.copyOf(warmWorkloads);
    lagWorkloads = List.copyOf(lagWorkloads);
    lagRates = List.copyOf(lagRates);
  }

  /**
   * A smoke run for CI: every step (lag on W1 only) but the metrics cost and the warm catch-up,
   * small sizes (C1 and C4 one round each), within 2.5 minutes. The metrics cost runs only when
   * asked for ({@code --quick --only=metrics}): it adds two daemon starts, and on a backlog this
   * small it measures JVM start-up noise, not metrics.
   */
  public static BenchPlan quick() {
    return new BenchPlan(
        "quick",
        10_000,
        5_000,
        1_000,
        5_000,
        10_000,
        10_000,
        10_000,
        5_000,
        Duration.ofSeconds(30),
        1,
        10_000,
        5_000,
        5_000,
        1,
        0,
        List.of(),
        List.of("W1"),
        List.of(1_000),
        0.5,
        Duration.ofSeconds(2),
        Duration.ofSeconds(3),
        10_000,
        0,
        Duration.ofMinutes(3));
  }

  /**
   * The full run, within about 19 minutes on two cores: W5, W6, W7 and W8 at a million rows as the
   * issue asks (each verify of W8 stopped after 60 s), the streaming workloads smaller than a
   * million in all, warm catch-up on W1, W2 and W4, lag on W1 to W4; the metrics cost on three
   * pairs of W1-sized catch-ups; C1 and C4 at W1's and W4's sizes, two rounds (cold, then warm),
   * and a third with each redis-server held to 10% of one core.
   */
  public static BenchPlan full() {
    return new BenchPlan(
        "full",
        200_000,
        100_000,
        20_000,
        100_000,
        150_000,
        1_000_000,
        1_000_000,
        1_000_000,
        Duration.ofSeconds(60),
        3,
        200_000,
        200_000,
        150_000,
        2,
        0.1,
        List.of("W1", "W2", "W4"),
        List.of("W1", "W2", "W3", "W4"),
        List.of(1_000),
        0.5,
        Duration.ofSeconds(15),
        Duration.ofSeconds(10),
        100_000,
        5_000,
        Duration.ofMinutes(10));
  }

  /** This plan with {@code pairs} rounds of the metrics cost measurement. */
  public BenchPlan withMetricsPairs(int pairs) {
    return new BenchPlan(
        name,
        narrowInserts,
        wideUpdates,
        wideRows,
        deletes,
        mixedChanges,
        largeTransactionRows,
        resyncRows,
        firstStartRows,
        verifyLimit,
        pairs,
        metricsChanges,
        clusterInserts,
        clusterMixedChanges,
        clusterRounds,
        clusterRedisShare,
        warmWorkloads,
        lagWorkloads,
        lagRates,
        lagDrainShare,
        lagPerRate,
        naiveWriteBudget,
        redisBenchmarkRequests,
        verifySample,
        timeout);
  }

  /**
   * The highest rate the relative lag rate ({@link #lagDrainShare}) is expected to reach, for
   * workloads whose lag changes need rows made ahead (W3's deletes); beyond it they run out of rows
   * and offer the rate for a shorter time.
   */
  static final int HIGHEST_RELATIVE_LAG_RATE = 10_000;

  /**
   * How many changes the lag measurement of {@code workload} may offer in all (the relative rate
   * counted at {@link #HIGHEST_RELATIVE_LAG_RATE}), to cachesync and, when the run measures warm
   * catch-up, to Debezium alone; 0 when none.
   */
  public long lagChanges(String workload) {
    int consumers = warmWorkloads.isEmpty() ? 1 : 2;
    return lagWorkloads.contains(workload)
        ? consumers
            * (lagRates.stream().mapToLong(Integer::longValue).sum() + HIGHEST_RELATIVE_LAG_RATE)
            * lagPerRate.toSeconds()
        : 0;
  }
}
