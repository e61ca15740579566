package io.cachesync.bench.report;

import io.cachesync.bench.report.ClusterComparison.Drained;
import io.cachesync.bench.report.ClusterComparison.Round;
import io.cachesync.bench.report.ClusterComparison.Workload;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Prints the cluster workloads (C1, C4) as a section of their own after the result table: a column
 * per workload; per round the catch-up rate on one master and on the cluster and their ratio, and
 * the CPU time of the daemon, its WAL sender and Redis per 100,000 changes.
 */
public final class ClusterSection {
  private static final int LABEL = 42;
  private static final int CELL = 17;

  private final PrintStream out;

  public ClusterSection(PrintStream out) {
    this.out = out;
  }

  /**
   * @param cores the machine's cores, for the note on what bounds the ratio
   */
  public void print(ClusterComparison comparison, int cores) {
    List<Workload> workloads = comparison.workloads();
    int masters = comparison.masters();
    String cluster = masters + " masters";
    out.printf(
        "Redis Cluster: the daemon on %d masters (redis-cluster://, no replicas) and on one Redis"
            + " (redis://), the same backlogs%n",
        masters);
    row("", workloads, Workload::id);
    row("", workloads, Workload::title);
    row(
        "changes per round",
        workloads,
        w -> count(w.rounds().get(0).oneMaster().drain().changes()));
    int rounds = workloads.get(0).rounds().size();
    for (int i = 0; i < rounds; i++) {
      int index = i;
      out.printf(
          "round %d (%s), catch-up, changes/s%n",
          i + 1, workloads.get(0).rounds().get(i).condition());
      rate("  one master", workloads, index, Round::oneMaster);
      rate("  " + cluster, workloads, index, Round::cluster);
      row(
          "    ratio " + cluster + " / one master",
          workloads,
          w -> String.format("%.2f", w.rounds().get(index).ratio()));
      out.printf("  CPU s per 100,000 changes, one master / %s%n", cluster);
      cpu("    the daemon's JVM", workloads, index, Drained::daemon);
      cpu("    its WAL sender", workloads, index, Drained::walSender);
      cpu("    Redis (" + cluster + ": together)", workloads, index, Drained::redis);
      cpu("    Redis, the busiest master", workloads, index, Drained::busiestRedis);
      out.printf("  changes per CPU second, one master / %s%n", cluster);
      perCpuSecond("    the daemon's JVM", workloads, index, Drained::daemon);
      perCpuSecond("    Redis, the busiest master", workloads, index, Drained::busiestRedis);
      double share = workloads.get(0).rounds().get(i).redisShare();
      if (share > 0) {
        bothSides(
            "  the busiest master's quota used, %",
            workloads,
            index,
            drained ->
                drained
                    .busiestRedis()
                    .map(
                        used ->
                            String.format(
                                "%.0f",
                                100.0
                                    * used.toNanos()
                                    / (drained.drain().took().toNanos() * share)))
                    .orElse("-"));
      }
    }
    out.printf(
        "(%d masters writing in parallel would at best drain %d times as fast as one, if Redis"
            + " were the bottleneck; this machine has %d cores for the daemon, PostgreSQL's WAL"
            + " sender and every redis-server, so the ratio shows what the split per master gains"
            + " or costs here, not what it gains on a cluster of machines)%n",
        masters, masters, cores);
    if (workloads.get(0).rounds().stream().anyMatch(r -> r.redisShare() > 0)) {
      out.println(
          "(a round with each redis-server held to a share of one core (a cgroup CPU quota over"
              + " 10 ms periods, the same share for one master and for each of the cluster's): a"
              + " master that also serves the application's reads has only part of a core for the"
              + " synchronizer's writes; where one master uses its whole quota, Redis, not the"
              + " daemon, bounds it, and the ratio shows what splitting each batch over the masters"
              + " gains)");
    }
    out.println(
        "(changes per CPU second: the changes drained over the CPU seconds the process used; a"
            + " redis-server runs the writes on one thread, so the busiest master's figure is what"
            + " it could take with a core of its own (unless held to a share of one), and it grows"
            + " with the masters; the daemon's"
            + " JVM runs on several threads, so its figure is per core it gets, and it does not)");
    out.println(
        "(each round: both daemons held still (SIGSTOP) while the backlog is written and closed"
            + " by the marker row; then each in turn, alone on the machine, resumed (SIGCONT) and"
            + " timed to the marker in its Redis, and held still again; round 1 is each daemon's"
            + " first drain after its start and initial load, so its JIT is still cold; the order"
            + " alternates, one master first in odd rounds; CPU as in the table's legend)");
  }

  private void rate(
      String label, List<Workload> workloads, int round, Function<Round, Drained> side) {
    row(label, workloads, w -> count(side.apply(w.rounds().get(round)).drain().rate()));
  }

  private void cpu(
      String label,
      List<Workload> workloads,
      int round,
      Function<Drained, Optional<Duration>> cpu) {
    bothSides(
        label,
        workloads,
        round,
        drained -> ResultTable.perHundredThousand(cpu.apply(drained), drained.drain().changes()));
  }

  private void perCpuSecond(
      String label,
      List<Workload> workloads,
      int round,
      Function<Drained, Optional<Duration>> cpu) {
    bothSides(label, workloads, round, drained -> perCpuSecond(drained, cpu));
  }

  /** A row whose cells give {@code cell} of one master's drain, then of the cluster's. */
  private void bothSides(
      String label, List<Workload> workloads, int round, Function<Drained, String> cell) {
    row(
        label,
        workloads,
        w -> {
          Round r = w.rounds().get(round);
          return cell.apply(r.oneMaster()) + " / " + cell.apply(r.cluster());
        });
  }

  /** The changes drained per second of {@code cpu}'s CPU time; "-" when it was not measured. */
  private static String perCpuSecond(Drained drained, Function<Drained, Optional<Duration>> cpu) {
    return cpu.apply(drained)
        .filter(used -> !used.isZero())
        .map(used -> count(drained.drain().changes() / (used.toNanos() / 1e9)))
        .orElse("-");
  }

  private void row(String label, List<Workload> workloads, Function<Workload, String> cell) {
    StringBuilder line = new StringBuilder(String.format("%-" + LABEL + "s", label));
    for (Workload workload : workloads) {
      line.append(String.format(" %" + (CELL - 1) + "s", cell.apply(workload)));
    }
    out.println(line.toString().stripTrailing());
  }

  private static String count(double value) {
    return String.format("%,.0f", value);
  }
}
