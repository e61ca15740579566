package io.cachesync.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.RedisBenchmark;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ResultTableTest {
  private static final RedisBenchmark.Ceilings REDIS =
      new RedisBenchmark.Ceilings(100_000, 20_000, 150_000, 90_000, 400_000);

  private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
  private final ResultTable table =
      new ResultTable(new PrintStream(printed, true, StandardCharsets.UTF_8));

  @Test
  void print_cpuTimes_perHundredThousandChangesWithTheJvmRatio() {
    WorkloadResult w1 =
        streamed(
            new ProcessCosts(seconds(4), seconds(0.5), seconds(1), seconds(2), Optional.empty()),
            Optional.of(
                new WarmDrain(
                    new Drain(200_000, Duration.ofSeconds(10)),
                    new Drain(200_000, Duration.ofSeconds(8)),
                    seconds(6),
                    seconds(5))));

    table.print(List.of(w1), REDIS, List.of("offered 1,000/s for 15 s"), "100 ticks a second");

    assertThat(lines())
        .contains(
            row("  cachesync's JVM (W6: resync job)", "2.00"),
            row("  its WAL sender", "0.25"),
            row("  Redis, while cachesync drains", "0.50"),
            row("  Debezium alone's JVM", "1.00"),
            row("  its WAL sender", "-"),
            row("    ratio cachesync / it, JVMs", "2.00"),
            row("  cachesync", "20,000"),
            row("  Debezium alone", "25,000"),
            row("    ratio cachesync / it", "0.80"),
            row("  warm: cachesync's JVM / Debezium's", "3.00 / 2.50"),
            row("    ratio cachesync / it", "1.20"));
  }

  @Test
  void print_firstStart_hasNoDebeziumAloneFiguresAndThePlainHsetCeiling() {
    WorkloadResult w7 =
        new WorkloadResult(
            "W7",
            "first start",
            1_000_000,
            new Drain(1_000_000, Duration.ofSeconds(20)),
            new Drain(1_000_000, Duration.ofSeconds(1)),
            Optional.empty(),
            Optional.empty(),
            false,
            new Memory(300 << 20, 100 << 20),
            Memory.UNKNOWN,
            new ProcessCosts(
                seconds(30), Optional.empty(), seconds(5), Optional.empty(), Optional.empty()),
            Optional.empty(),
            List.of(),
            List.of());

    table.print(List.of(w7), REDIS, List.of("offered 1,000/s for 15 s"), "100 ticks a second");

    assertThat(lines())
        .contains(
            row("  Debezium alone", "-"),
            row("  redis-benchmark, plain HSET (W6, W7)", "400,000"),
            row("    ratio cachesync / it", "0.13"),
            row("  cachesync's JVM (W6: resync job)", "3.00"),
            row("  cachesync (W6: the resync job)", "300 / 100"))
        .noneMatch(line -> line.startsWith("warm catch-up"));
  }

  @Test
  void printVerify_stoppedRun_givesAnUpperBound() {
    table.printVerify(
        new VerifyResult(
            1_000_000,
            Duration.ofSeconds(100),
            outcome(false, -1, Duration.ofSeconds(100)),
            outcome(true, 1, Duration.ofSeconds(50))));

    assertThat(printed.toString(StandardCharsets.UTF_8))
        .contains("< 10,000")
        .contains("stopped")
        .contains("20,000");
  }

  private static WorkloadResult streamed(ProcessCosts costs, Optional<WarmDrain> warm) {
    return new WorkloadResult(
        "W1",
        "narrow inserts",
        200_000,
        new Drain(200_000, Duration.ofSeconds(20)),
        new Drain(200_000, Duration.ofSeconds(2)),
        Optional.of(new Drain(200_000, Duration.ofSeconds(15))),
        Optional.of(new Drain(200_000, Duration.ofSeconds(60))),
        false,
        Memory.UNKNOWN,
        Memory.UNKNOWN,
        costs,
        warm,
        List.of(),
        List.of());
  }

  private static CachesyncJar.Outcome outcome(boolean finished, int exit, Duration took) {
    return new CachesyncJar.Outcome(
        finished, exit, "", took, new Memory(200 << 20, 50 << 20), Optional.empty(), 0, 1);
  }

  private static Optional<Duration> seconds(double seconds) {
    return Optional.of(Duration.ofMillis(Math.round(seconds * 1000)));
  }

  private List<String> lines() {
    return printed.toString(StandardCharsets.UTF_8).lines().toList();
  }

  /** A table row with one workload: the label padded to its column, the cell right-aligned. */
  private static String row(String label, String cell) {
    return String.format("%-42s %16s", label, cell);
  }
}
