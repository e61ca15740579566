package io.cachesync.bench.report;

import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.LagResult;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.RedisBenchmark;
import io.cachesync.bench.workload.MixedTables;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
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

  /** The table of W1 to W6, its notes and its legend. */
  public void print(
      List<WorkloadResult> results,
      RedisBenchmark.Ceilings redis,
      List<Integer> lagRates,
      String lagPerRate) {
    row("", results, r -> r.id());
    row("", results, r -> r.title());
    row("changes (W6: rows)", results, r -> count(r.changes()));
    out.println("catch-up, changes/s");
    row("  cachesync", results, r -> count(r.cachesync().rate()));
    reference("pg_recvlogical (W6: COPY TO STDOUT)", results, WorkloadResult::postgresOnly);
    reference("Debezium alone", results, WorkloadResult::debeziumAlone);
    row(
        "  naive synchronizer (*: its first part)",
        results,
        r -> count(r.naive().rate()) + (r.naivePartial() ? "*" : ""));
    row("    ratio cachesync / it", results, r -> ratio(r.cachesync().rate(), r.naive().rate()));
    row("  redis-benchmark, cachesync's commands", results, r -> count(ceiling(r, redis)));
    row("    ratio cachesync / it", results, r -> ratio(r.cachesync().rate(), ceiling(r, redis)));
    out.println("commit-to-Redis lag, ms p50 / p99 / max");
    for (int i = 0; i < lagRates.size(); i++) {
      int index = i;
      row(
          String.format("  offered %,d/s for %s", lagRates.get(i), lagPerRate),
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
      row("    achieved rate, /s", results, r -> lag(r, index, l -> count(l.achievedPerSecond())));
    }
    out.println("memory, MiB: peak RSS / peak heap used");
    row("  cachesync (W6: the resync job)", results, r -> memory(r.cachesyncMemory()));
    row("  Debezium alone", results, r -> memory(r.debeziumAloneMemory()));
    row(
        "    ratio cachesync / it",
        results,
        r -> memoryRatio(r.cachesyncMemory(), r.debeziumAloneMemory()));
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
    legend();
  }

  private void reference(
      String name, List<WorkloadResult> results, Function<WorkloadResult, Drain> reference) {
    row("  " + name, results, r -> count(reference.apply(r).rate()));
    row(
        "    ratio cachesync / it",
        results,
        r -> ratio(r.cachesync().rate(), reference.apply(r).rate()));
  }

  private static double ceiling(WorkloadResult result, RedisBenchmark.Ceilings redis) {
    return switch (result.id()) {
      case "W2" -> redis.wideWrite();
      case "W3" -> redis.evict();
      case "W4" -> redis.mix(MixedTables.WRITES_PER_GROUP, MixedTables.EVICTIONS_PER_GROUP);
      case "W6" -> redis.narrowLoad();
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

  private void legend() {
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
            + " PostgreSQL reading the table and nothing else.");
    lines.add(
        "- Debezium alone: cachesync's engine settings, a consumer that only marks records"
            + " processed. Naive: Debezium's default batching and polling, one synchronous HSET or"
            + " DEL per change; it writes for a limited time per workload (*) and is then measured"
            + " on what it wrote. redis-benchmark: the commands cachesync sends for the workload,"
            + " pipelined, as many rows per script call as cachesync sends: write_hash.lua on new"
            + " keys (W1, W5), on existing wide rows keeping their TOASTed column (W2), evict.lua"
            + " on existing keys (W3), 11 writes to 4 evictions (W4), load_hash.lua on new keys"
            + " (W6, an initial load); a mix's rate is combined from its commands' rates.");
    lines.add(
        "- ratio = cachesync's figure / the reference's: for rates 1.00 is as fast, 0.50 half as"
            + " fast; for memory 2.00 is twice as much.");
    lines.add(
        "- lag: row changes offered open loop at a fixed rate by 4 connections while the daemon"
            + " runs caught up: single-row inserts (W1), updates (W2), deletes (W3), orders of 5"
            + " changes at a fifth of the rate (W4); per transaction, the moment Redis's keyspace"
            + " notification of its key reached the benchmark minus the commit time in the"
            + " transaction's WAL commit record (track_commit_timestamp), both on the machine's"
            + " wall clock, in an HdrHistogram. Above what the daemon can take, lag grows for as"
            + " long as the load lasts.");
    lines.add(
        "- memory: the process while it drained the workload (W6: the whole job, or the whole"
            + " reference process); RSS is the kernel's high-water mark (VmHWM) since the process"
            + " started, heap the largest used heap sampled by jstat -gc every 250 ms during the"
            + " workload (a lower bound).");
    lines.forEach(out::println);
  }
}
