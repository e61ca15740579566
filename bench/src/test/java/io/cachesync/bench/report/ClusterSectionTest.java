package io.cachesync.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.report.ClusterComparison.Drained;
import io.cachesync.bench.report.ClusterComparison.Round;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClusterSectionTest {
  private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
  private final ClusterSection section =
      new ClusterSection(new PrintStream(printed, true, StandardCharsets.UTF_8));

  @Test
  void print_threeRounds_ratesRatioAndCpuPerHundredThousandOfEachRound_underItsCondition() {
    ClusterComparison comparison =
        new ClusterComparison(
            3,
            List.of(
                new ClusterComparison.Workload(
                    "C1",
                    "narrow inserts",
                    List.of(
                        new Round(
                            drained(10, 4, 1, 2, 2), drained(20, 6, Double.NaN, 3, 1), "JIT cold"),
                        new Round(
                            drained(8, 2, 1, 1, 1), drained(10, 3, 1, 2, 0.8), "warm, same JVMs"),
                        new Round(
                            drained(40, 2, 1, 4, 4),
                            drained(16, 3, 1, 3, 1.2),
                            "warm, each redis-server held to 10% of one core",
                            0.1)))));

    section.print(comparison, 2);

    assertThat(lines())
        .containsSubsequence(
            row("", "C1"),
            row("changes per round", "200,000"),
            "round 1 (JIT cold), catch-up, changes/s",
            row("  one master", "20,000"),
            row("  3 masters", "10,000"),
            row("    ratio 3 masters / one master", "0.50"),
            row("    the daemon's JVM", "2.00 / 3.00"),
            row("    its WAL sender", "0.50 / -"),
            row("    Redis (3 masters: together)", "1.00 / 1.50"),
            row("    Redis, the busiest master", "1.00 / 0.50"),
            "  changes per CPU second, one master / 3 masters",
            row("    the daemon's JVM", "50,000 / 33,333"),
            row("    Redis, the busiest master", "100,000 / 200,000"),
            "round 2 (warm, same JVMs), catch-up, changes/s",
            row("  one master", "25,000"),
            row("  3 masters", "20,000"),
            row("    ratio 3 masters / one master", "0.80"));
    assertThat(lines())
        .containsSubsequence(
            "round 2 (warm, same JVMs), catch-up, changes/s",
            row("    Redis, the busiest master", "0.50 / 0.40"),
            row("    Redis, the busiest master", "200,000 / 250,000"));
    assertThat(lines())
        .containsSubsequence(
            "round 3 (warm, each redis-server held to 10% of one core), catch-up, changes/s",
            row("  one master", "5,000"),
            row("  3 masters", "12,500"),
            row("    ratio 3 masters / one master", "2.50"),
            row("  the busiest master's quota used, %", "100 / 75"));
    assertThat(lines()).doesNotContain(row("  the busiest master's quota used, %", "- / -"));
    assertThat(lines().stream().filter(line -> line.contains("quota used")).count())
        .as("the quota row, in the held round only")
        .isEqualTo(1);
    assertThat(printed.toString(StandardCharsets.UTF_8)).contains("this machine has 2 cores");
  }

  /**
   * 200,000 changes drained in {@code seconds}, with the daemon's, the WAL sender's, Redis's and
   * its busiest master's CPU seconds (NaN: not read).
   */
  private static Drained drained(
      double seconds, double daemon, double walSender, double redis, double busiest) {
    return new Drained(
        new Drain(200_000, Duration.ofMillis(Math.round(seconds * 1000))),
        seconds(daemon),
        seconds(walSender),
        seconds(redis),
        seconds(busiest));
  }

  private static Optional<Duration> seconds(double seconds) {
    return Double.isNaN(seconds)
        ? Optional.empty()
        : Optional.of(Duration.ofMillis(Math.round(seconds * 1000)));
  }

  private List<String> lines() {
    return printed.toString(StandardCharsets.UTF_8).lines().toList();
  }

  /** A row with one workload: the label padded to its column, the cell right-aligned. */
  private static String row(String label, String cell) {
    return String.format("%-42s %16s", label, cell).stripTrailing();
  }
}
