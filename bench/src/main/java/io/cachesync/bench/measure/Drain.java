package io.cachesync.bench.measure;

import java.time.Duration;

/**
 * One consumer draining one backlog: how many changes it went through and how long it took, from
 * the moment it started streaming (its replication slot became active, or its engine started for a
 * snapshot) to the moment it had processed the last change (the workload's end marker).
 */
public record Drain(long changes, Duration took) {
  public Drain {
    if (changes < 0) {
      throw new IllegalArgumentException("changes " + changes + " < 0");
    }
    if (took.isNegative() || took.isZero()) {
      throw new IllegalArgumentException("a drain of " + changes + " changes took " + took);
    }
  }

  public static Drain of(long changes, long startNanos, long endNanos) {
    return new Drain(changes, Duration.ofNanos(Math.max(1, endNanos - startNanos)));
  }

  /** Changes (or rows) per second. */
  public double rate() {
    return changes / (took.toNanos() / 1e9);
  }
}
