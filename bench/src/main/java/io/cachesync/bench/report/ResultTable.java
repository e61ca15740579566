package io.cachesync.bench.report;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.LagResult;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.RedisBenchmark;
import io.cachesync.bench.workload.MixedTables;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Prints the run as one table, a column per workload and a row per figure, each reference followed
 * by cachesync's ratio to it, then what every row means.
 */
public final class ResultTable {
  private static final int LABEL = 42;
  private static final int CELL = 17;
  private static final double MIB = 1024.0 * 1024;

  private final PrintStream out;

  public ResultTable(PrintStream out) {
    this.out = out;
  }

  /** The run's name and the machine it ran on. */
  public void header(String plan, Machine machine) {
    out.printf("cachesync benchmark (%s)%n", plan);
    out.printf(
        "machine: %d cores, %s, %.1f GiB RAM; load average %s before the run, %s after%n",
        machine.cores(),
        machine.cpuModel(),
        machine.memoryBytes() / (MIB * 1024),
        machine.loadAverage(),
        Machine.oneMinuteLoad());
    out.printf(
        "PostgreSQL %s (%s), Redis %s, %s; every JVM -Xmx256m%n%n",
        machine.postgresVersion(),
        machine.postgresSettings(),
        machine.redisVersion(),
        machine.javaVersion());
  }

  /**
   * The table of W1 to W7, its notes and its legend.
   *
   * @param lagLabels the label of each lag measurement, in order (a fixed rate, or a share of the
   *     workload's catch-up rate)
   * @param cpu how the CPU time was counted (for the legend)
   */
  public void print(
      List<WorkloadResult> results,
      RedisBenchmark.Ceilings redis,
      List<String> lagLabels,
      String cpu) {
    row("", results, r -> r.id());
    row("", results, r -> r.title());
    row("changes (W6, W7: rows)", results, r -> count(r.changes()));
    out.println("catch-up, changes/s (W6, W7: rows/s)");
    row("  cachesync", results, r -> count(r.cachesync().rate()));
    reference(
        "pg_recvlogical (W6, W7: COPY TO STDOUT)", results, r -> Optional.of(r.postgresOnly()));
    reference("Debezium alone", results, WorkloadResult::debeziumAlone);
    row(
        "  naive synchronizer (*: its first part)",
        results,
        r -> r.naive().map(n -> count(n.rate()) + (r.naivePartial() ? "*" : "")).orElse("-"));
    row(
        "    ratio cachesync / it",
        results,
        r -> r.naive().map(n -> ratio(r.cachesync().rate(), n.rate())).orElse("-"));
    row("  redis-benchmark, cachesync's commands", results, r -> count(ceiling(r, redis)));
    row("    ratio cachesync / it", results, r -> ratio(r.cachesync().rate(), ceiling(r, redis)));
    row(
        "  redis-benchmark, plain HSET (W6, W7)",
        results,
        r -> loads(r) ? count(redis.plainHset()) : "-");
    row(
        "    ratio cachesync / it",
        results,
        r -> loads(r) ? ratio(r.cachesync().rate(), redis.plainHset()) : "-");
    if (results.stream().anyMatch(r -> r.warm().isPresent())) {
      out.println("warm catch-up, changes/s (second backlog, resumed caught up)");
      row("  cachesync", results, r -> r.warm().map(w -> count(w.cachesync().rate())).orElse("-"));
      row(
          "  Debezium alone",
          results,
          r -> r.warm().map(w -> count(w.debeziumAlone().rate())).orElse("-"));
      row(
          "    ratio cachesync / it",
          results,
          r ->
              r.warm().map(w -> ratio(w.cachesync().rate(), w.debeziumAlone().rate())).orElse("-"));
    }
    out.println("CPU seconds per 100,000 changes (W6, W7: rows)");
    cpuRow("  cachesync's JVM (W6: resync job)", results, r -> r.cpu().cachesync());
    cpuRow("  its WAL sender", results, r -> r.cpu().cachesyncWalSender());
    cpuRow("  Redis, while cachesync drains", results, r -> r.cpu().redis());
    cpuRow("  Debezium alone's JVM", results, r -> r.cpu().debeziumAlone());
    cpuRow("  its WAL sender", results, r -> r.cpu().debeziumAloneWalSender());
    row(
        "    ratio cachesync / it, JVMs",
        results,
        r -> cpuRatio(r.cpu().cachesync(), r.cpu().debeziumAlone()));
    if (results.stream().anyMatch(r -> r.warm().isPresent())) {
      row(
          "  warm: cachesync's JVM / Debezium's",
          results,
          r ->
              r.warm()
                  .map(
                      w ->
                          perHundredThousand(w.cachesyncCpu(), w.cachesync().changes())
                              + " / "
                              + perHundredThousand(
                                  w.debeziumAloneCpu(), w.debeziumAlone().changes()))
                  .orElse("-"));
      row(
          "    ratio cachesync / it",
          results,
          r ->
              r.warm()
                  // Both drained the same backlog: the ratio of their CPU times is that per change.
                  .map(w -> cpuRatio(w.cachesyncCpu(), w.debeziumAloneCpu()))
                  .orElse("-"));
    }
    out.println("commit-to-Redis lag, ms p50 / p99 / max");
    for (int i = 0; i < lagLabels.size(); i++) {
      int index = i;
      row(
          "  " + lagLabels.get(i),
          results,
          r ->
              lag(
                  r,
                  index,
                  l ->
                      String.format(
                          "%s/%s/%s",
                          ms(l.percentileMillis(50)),
                          ms(l.percentileMillis(99)),
                          ms(l.maxMillis()))));
      row(
          "    offered / achieved, /s",
          results,
          r ->
              lag(r, index, l -> count(l.offeredPerSecond()) + "/" + count(l.achievedPerSecond())));
      if (results.stream()
          .anyMatch(
              r -> index < r.lags().size() && r.lags().get(index).debeziumAlone().isPresent())) {
        row(
            "    Debezium alone, to receipt",
            results,
            r ->
                lag(
                    r,
                    index,
                    l ->
                        l.debeziumAlone()
                            .map(
                                a ->
                                    String.format(
                                        "%s/%s/%s",
                                        ms(a.p50Millis()), ms(a.p99Millis()), ms(a.maxMillis())))
                            .orElse("-")));
      }
    }
    out.println("memory, MiB: peak RSS / peak heap used");
    row("  cachesync (W6: the resync job)", results, r -> memory(r.cachesyncMemory()));
    row(
        "  Debezium alone",
        results,
        r -> r.debeziumAlone().isPresent() ? memory(r.debeziumAloneMemory()) : "-");
    row(
        "    ratio cachesync / it",
        results,
        r ->
            r.debeziumAlone().isPresent()
                ? memoryRatio(r.cachesyncMemory(), r.debeziumAloneMemory())
                : "-");
    out.println();
    out.printf(
        "redis-benchmark (50 clients, pipelines of 64), rows/s: write_hash.lua narrow %s,"
            + " wide %s, evict.lua %s, load_hash.lua narrow %s, plain HSET narrow %s%n",
        count(redis.narrowWrite()),
        count(redis.wideWrite()),
        count(redis.evict()),
        count(redis.narrowLoad()),
        count(redis.plainHset()));
    results.stream().flatMap(r -> r.notes().stream()).forEach(note -> out.println("note: " + note));
    out.println();
    legend(cpu);
  }

  /** W8: the two verify runs, a row each, then what the rows mean. */
  public void printVerify(VerifyResult verify) {
    out.printf(
        "W8: cachesync verify of %s narrow rows (every JVM -Xmx256m)%n", count(verify.rows()));
    out.printf(
        "%-" + LABEL + "s %12s %10s %8s %16s %13s%n",
        "",
        "rows/s",
        "took, s",
        "exit",
        "RSS / heap, MiB",
        "CPU s / 100k");
    verifyRow("  consistent table (exit 0 expected)", verify, verify.consistent());
    verifyRow("  after FLUSHDB (exit 1 expected)", verify, verify.flushed());
    out.println(
        "- the whole job (JVM start included), W7's table and its marker row, every row and key;"
            + " rows/s = the table's rows / the job's time. A run still going after "
            + verify.limit().toSeconds()
            + " s is stopped: its rate is then below rows / "
            + verify.limit().toSeconds()
            + " s. After FLUSHDB of the synchronizer's Redis database (FLUSHALL would empty the"
            + " other workloads' caches before the correctness check) every row's key is missing."
            + " Peak RSS and heap as in the table's memory rows; CPU: the job's JVM over its whole"
            + " run, per 100,000 of the table's rows.");
  }

  private void verifyRow(String label, VerifyResult verify, CachesyncJar.Outcome outcome) {
    String rate;
    String exit;
    if (outcome.finished()) {
      rate = count(verify.rows() / (outcome.took().toNanos() / 1e9));
      exit = Integer.toString(outcome.exitCode());
      if (outcome.output().contains("OutOfMemoryError")) {
        exit += " (OOM)";
      }
    } else {
      rate = "< " + count(verify.rows() / (double) verify.limit().toSeconds());
      exit = "stopped";
    }
    out.printf(
        "%-" + LABEL + "s %12s %10s %8s %16s %13s%n",
        label,
        rate,
        String.format("%.1f", outcome.took().toNanos() / 1e9),
        exit,
        memory(outcome.memory()),
        outcome.finished() ? perHundredThousand(outcome.cpu(), verify.rows()) : "-");
  }

  private static boolean loads(WorkloadResult result) {
    return result.id().equals("W6") || result.id().equals("W7");
  }

  private void cpuRow(
      String label,
      List<WorkloadResult> results,
      Function<WorkloadResult, Optional<Duration>> cpu) {
    row(label, results, r -> perHundredThousand(cpu.apply(r), r.changes()));
  }

  /** CPU seconds per 100,000 changes, as a cell; "-" when not measured. */
  static String perHundredThousand(Optional<Duration> cpu, long changes) {
    return cpu.map(d -> String.format("%.2f", perChange(d, changes) * 100_000)).orElse("-");
  }

  private static double perChange(Duration cpu, long changes) {
    return cpu.toNanos() / 1e9 / changes;
  }

  /** The ratio of two CPU times over the same changes; "-" when either was not measured. */
  private static String cpuRatio(Optional<Duration> cachesync, Optional<Duration> reference) {
    if (cachesync.isEmpty() || reference.isEmpty()) {
      return "-";
    }
    return ratio(cachesync.get().toNanos(), reference.get().toNanos());
  }

  private void reference(
      String name,
      List<WorkloadResult> results,
      Function<WorkloadResult, Optional<Drain>> reference) {
    row("  " + name, results, r -> reference.apply(r).map(d -> count(d.rate())).orElse("-"));
    row(
        "    ratio cachesync / it",
        results,
        r -> reference.apply(r).map(d -> ratio(r.cachesync().rate(), d.rate())).orElse("-"));
  }

  private static double ceiling(WorkloadResult result, RedisBenchmark.Ceilings redis) {
    return switch (result.id()) {
      case "W2" -> redis.wideWrite();
      case "W3" -> redis.evict();
      case "W4" -> redis.mix(MixedTables.WRITES_PER_GROUP, MixedTables.EVICTIONS_PER_GROUP);
      case "W6", "W7" -> redis.narrowLoad();
      default -> redis.narrowWrite();
    };
  }

  private void row(
      String label, List<WorkloadResult> results, Function<WorkloadResult, String> cell) {
    StringBuilder line = new StringBuilder(String.format("%-" + LABEL + "s", label));
    for (WorkloadResult result : results) {
      line.append(String.format(" %" + (CELL - 1) + "s", cell.apply(result)));
    }
    out.println(line.toString().stripTrailing());
  }

  private static String lag(WorkloadResult result, int index, Function<LagResult, String> cell) {
    return index < result.lags().size() ? cell.apply(result.lags().get(index)) : "-";
  }

  private static String count(double value) {
    return String.format("%,.0f", value);
  }

  private static String ratio(double cachesync, double reference) {
    if (cachesync <= 0 || reference <= 0) {
      return "?";
    }
    double ratio = cachesync / reference;
    return String.format(ratio < 0.1 ? "%.3f" : "%.2f", ratio);
  }

  private static String ms(double millis) {
    return millis < 10 ? String.format("%.1f", millis) : String.format("%.0f", millis);
  }

  private static String memory(Memory memory) {
    return (memory.peakRssBytes() < 0 ? "?" : String.format("%.0f", memory.peakRssBytes() / MIB))
        + " / "
        + (memory.peakHeapUsedBytes() < 0
            ? "?"
            : String.format("%.0f", memory.peakHeapUsedBytes() / MIB));
  }

  private static String memoryRatio(Memory cachesync, Memory reference) {
    return ratio(cachesync.peakRssBytes(), reference.peakRssBytes())
        + " / "
        + ratio(cachesync.peakHeapUsedBytes(), reference.peakHeapUsedBytes());
  }

  private void legend(String cpu) {
    List<String> lines = new ArrayList<>();
    lines.add("What the rows mean:");
    lines.add(
        "- W1-W5 catch-up: the five backlogs are written one after the other while every"
            + " consumer is stopped, each closed by an update of a marker row; then each consumer"
            + " alone drains the whole stream from its own replication slot. A workload's time"
            + " runs from the previous workload's marker (W1: from the moment the consumer's slot"
            + " became active, so JVM and connector start are excluded, JIT warm-up is not) to its"
            + " own marker: seen in Redis for cachesync, in the consumer for the others;"
            + " pg_recvlogical runs once per workload up to its end LSN, timed from its start to"
            + " its exit. Rate = the workload's row changes / that time. A batch (up to 1,024"
            + " changes) can hold the end of one workload and the start of the next, so with small"
            + " backlogs (--quick) the split between neighbours is rough. W6: rows / the time from"
            + " the job's start (after its JVM start and preflight; the engine's start for the"
            + " references) to the last row loaded, into an empty Redis database; COPY is"
            + " PostgreSQL reading the table and nothing else. W7: the daemon's first start on a"
            + " table already filled (no slot, empty Redis database): rows / the time from its"
            + " slot's creation to the first update of the marker row seen in Redis after the"
            + " row's loaded value (the marker is updated every 20 ms from the slot's creation;"
            + " only the stream, which starts after the load, can write a later value), so the"
            + " load's end is seen within about 25 ms; its time from the JVM's start is in a"
            + " note.");
    lines.add(
        "- warm catch-up (full run: W1, W2, W4): after the catch-up above, with the daemon and"
            + " Debezium alone both caught up and held still (SIGSTOP), a second backlog of the"
            + " same size is written and closed by the marker; Debezium alone is resumed (SIGCONT)"
            + " and timed to the marker and held still again, then the daemon is resumed and timed"
            + " to the marker in Redis: each alone on the machine, with a warm JVM. A consumer's"
            + " WAL sender may send part of the backlog ahead into its socket while it is held.");
    lines.add(
        "- Debezium alone: cachesync's engine settings, a consumer that only marks records"
            + " processed. Naive: Debezium's default batching and polling, one synchronous HSET or"
            + " DEL per change; it writes for a limited time per workload (*) and is then measured"
            + " on what it wrote. redis-benchmark: the commands cachesync sends for the workload,"
            + " pipelined, as many rows per script call as cachesync sends: write_hash.lua on new"
            + " keys (W1, W5), on existing wide rows keeping their TOASTed column (W2), evict.lua"
            + " on existing keys (W3), 11 writes to 4 evictions (W4), load_hash.lua on new keys"
            + " (W6, W7, an initial load); a mix's rate is combined from its commands' rates;"
            + " plain HSET: one HSET per narrow row, Redis's ceiling for a load.");
    lines.add(
        "- ratio = cachesync's figure / the reference's: for rates 1.00 is as fast, 0.50 half as"
            + " fast; for memory and CPU 2.00 is twice as much.");
    lines.add(
        "- CPU: user + system time (utime + stime of /proc/<pid>/stat, "
            + cpu
            + ") of each process, sampled every 10 ms and read at the start and end of each"
            + " drain above (the drain's own times), divided by its changes (W6, W7: rows), times"
            + " 100,000. cachesync's JVM: the daemon's (W6: the resync job's whole run, JVM start"
            + " and preflight included; W7: the daemon from its slot's creation to the last row);"
            + " Debezium alone's JVM likewise (W6: from its engine's start). WAL sender: the"
            + " walsender backend serving that consumer's replication connection (its slot's"
            + " active_pid); it decodes ahead of its consumer, so segment boundaries split its"
            + " time roughly (W5's decoding of its one transaction starts during W4), and a load"
            + " (W6, W7) reads over a plain backend, not counted. Redis: redis-server over"
            + " cachesync's drain. On a shared machine a rate shows contention, CPU per change shows"
            + " cost; the error is 10 ms (one sample and one clock tick) at each end of a drain.");
    lines.add(
        "- lag: row changes offered open loop by 4 connections while the daemon runs caught up,"
            + " at a fixed rate and at a share of cachesync's catch-up rate of the workload in"
            + " this run (warm where measured, otherwise as above), a rate relative to this"
            + " machine's speed (the row below gives the rate offered): single-row inserts (W1),"
            + " updates (W2), deletes (W3), orders of 5 changes at a fifth of the rate (W4); per"
            + " transaction, the moment Redis's keyspace notification of its key reached the"
            + " benchmark minus the commit time in the transaction's WAL commit record"
            + " (track_commit_timestamp), both on the machine's wall clock, in an HdrHistogram."
            + " Above what the daemon can take, lag grows for as long as the load lasts."
            + " Debezium alone (full run): the same rate offered with the daemon held still"
            + " (SIGSTOP), from each change's commit time (ts_us of its source block) to its"
            + " consumer's receipt, so without any Redis write: what Debezium's own path costs.");
    lines.add(
        "- memory: the process while it drained the workload (W6: the whole job, or the whole"
            + " reference process; W7: the daemon from its slot's creation to the last row); RSS"
            + " is the kernel's high-water mark (VmHWM) since the process started, heap the"
            + " largest used heap sampled by jstat -gc every 250 ms during the workload (a lower"
            + " bound).");
    lines.forEach(out::println);
  }
}
