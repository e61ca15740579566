package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.report.VerifyResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The correctness check, once nothing is measured any more: {@code cachesync verify --table T} of
 * every mapped table, a few tables at a time (verify waits on a round trip per key, so running
 * tables side by side shortens the check even on two cores). Consistent when every run exits 0. The
 * full run checks a sample of each table: verify goes through about 2,000 rows a second, and W1 to
 * W6 leave millions.
 */
final class Verification {
  /** The tables of one synchronizer's configuration, checked as one. */
  record Target(String name, Path config) {}

  /** What the check found for one target: consistent or not, and the lines to print. */
  record Verdict(boolean consistent, List<String> lines) {
    Verdict {
      lines = List.copyOf(lines);
    }

    /** Both verdicts: consistent when both are, their lines one after the other. */
    Verdict and(Verdict other) {
      List<String> both = new ArrayList<>(lines);
      both.addAll(other.lines());
      return new Verdict(consistent && other.consistent(), both);
    }
  }

  /**
   * The correctness of W7's load, as W8's first verify found it (every row and key of the table the
   * daemon loaded): inconsistent when it finished with another exit code than 0; unchecked, and
   * said so, when it was stopped at its time limit.
   */
  static Verdict ofW8(VerifyResult verify) {
    CachesyncJar.Outcome outcome = verify.consistent();
    if (!outcome.finished()) {
      return new Verdict(
          true,
          List.of(
              String.format(
                  "correctness W7: not checked, W8's verify did not finish within %d s",
                  verify.limit().toSeconds())));
    }
    if (outcome.exitCode() == 0) {
      return new Verdict(
          true,
          List.of(
              String.format(
                  "correctness W7: cachesync verify (W8): every key equals its row, every row has"
                      + " its key (%.1f s)",
                  outcome.took().toMillis() / 1000.0)));
    }
    List<String> lines = new ArrayList<>();
    lines.add(
        String.format(
            "correctness W7: FAILED, cachesync verify (W8) exited with %d:", outcome.exitCode()));
    outcome.output().lines().limit(60).forEach(line -> lines.add("  " + line));
    return new Verdict(false, lines);
  }

  private final CachesyncJar cachesync;
  private final int sample;
  private final Duration timeout;

  /**
   * @param sample rows and keys per table to check at random; 0 to check every row and key
   */
  Verification(CachesyncJar cachesync, int sample, Duration timeout) {
    this.cachesync = cachesync;
    this.sample = sample;
    this.timeout = timeout;
  }

  Verdict check(List<Target> targets) throws Exception {
    if (targets.isEmpty()) {
      return new Verdict(true, List.of()); // W8 alone: its own verify is the check
    }
    ExecutorService runs = Executors.newFixedThreadPool(targets.size());
    try {
      List<Future<CachesyncJar.Outcome>> outcomes = new ArrayList<>();
      for (Target target : targets) {
        outcomes.add(runs.submit(() -> cachesync.verify(target.config(), sample, timeout)));
      }
      boolean consistent = true;
      List<String> lines = new ArrayList<>();
      for (int i = 0; i < targets.size(); i++) {
        CachesyncJar.Outcome outcome = outcomes.get(i).get();
        String name = targets.get(i).name();
        if (outcome.exitCode() == 0) {
          lines.add(
              String.format(
                  "correctness %s: cachesync verify: %s (%.1f s)",
                  name,
                  sample > 0
                      ? String.format(
                          "%,d random rows and %,d random keys per table equal", sample, sample)
                      : "every key equals its row, every row has its key",
                  outcome.took().toMillis() / 1000.0));
        } else {
          consistent = false;
          lines.add(
              String.format(
                  "correctness %s: FAILED, cachesync verify exited with %d:",
                  name, outcome.exitCode()));
          outcome.output().lines().limit(60).forEach(line -> lines.add("  " + line));
        }
      }
      return new Verdict(consistent, lines);
    } finally {
      runs.shutdownNow();
    }
  }
}
