package io.cachesync.bench.measure;

import java.util.Optional;
import org.HdrHistogram.Histogram;

/**
 * Commit-to-Redis lag at one offered rate.
 *
 * @param offeredPerSecond the row changes per second the writer was scheduled at
 * @param achievedPerSecond row changes committed divided by the time from the first scheduled start
 *     to the last commit; below the offered rate when PostgreSQL could not take the load
 * @param lagMicros one value per transaction: Redis's keyspace notification of its key minus the
 *     commit time in its WAL commit record, in microseconds
 * @param missing changes whose notification never came (within 30 s after the last commit)
 * @param maxBehindMillis how late the writer started a change compared with its schedule, at worst
 * @param debeziumAlone the same rate offered to Debezium alone, when measured
 */
public record LagResult(
    int offeredPerSecond,
    double achievedPerSecond,
    Histogram lagMicros,
    long missing,
    double maxBehindMillis,
    Optional<ReferenceLag> debeziumAlone) {

  public LagResult(
      int offeredPerSecond,
      double achievedPerSecond,
      Histogram lagMicros,
      long missing,
      double maxBehindMillis) {
    this(
        offeredPerSecond, achievedPerSecond, lagMicros, missing, maxBehindMillis, Optional.empty());
  }

  /**
   * Debezium alone's lag at the same offered rate: from each change's commit (its WAL commit
   * record) to the consumer's receipt, in milliseconds.
   */
  public record ReferenceLag(
      double p50Millis, double p99Millis, double maxMillis, double achievedPerSecond) {}

  public LagResult withDebeziumAlone(ReferenceLag lag) {
    return new LagResult(
        offeredPerSecond, achievedPerSecond, lagMicros, missing, maxBehindMillis, Optional.of(lag));
  }

  public double percentileMillis(double percentile) {
    return lagMicros.getValueAtPercentile(percentile) / 1000.0;
  }

  public double maxMillis() {
    return lagMicros.getMaxValue() / 1000.0;
  }
}
