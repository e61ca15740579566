package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.measure.CpuTimeline;
import io.cachesync.bench.measure.ProcessCpu;
import io.cachesync.bench.measure.RedisBenchmark;
import io.cachesync.bench.report.ClusterComparison;
import io.cachesync.bench.report.ClusterSection;
import io.cachesync.bench.report.Machine;
import io.cachesync.bench.report.MetricsCost;
import io.cachesync.bench.report.MetricsCostSection;
import io.cachesync.bench.report.ResultTable;
import io.cachesync.bench.report.VerifyResult;
import io.cachesync.bench.report.WorkloadResult;
import io.cachesync.bench.workload.Deletes;
import io.cachesync.bench.workload.LargeTransaction;
import io.cachesync.bench.workload.MixedTables;
import io.cachesync.bench.workload.NarrowInserts;
import io.cachesync.bench.workload.WideUpdates;
import io.cachesync.bench.workload.Workload;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * {@code scripts/bench [--quick]}: measures cachesync against PostgreSQL, Debezium, a naive
 * synchronizer and Redis on one machine, in one run, on throwaway servers, and prints one table.
 * Exits 0 when every cached key equals its row at the end ({@code cachesync verify}), 1 when not, 2
 * when the benchmark could not run.
 */
public final class Benchmark {
  static final int CONSISTENT = 0;
  static final int DRIFT = 1;
  static final int FAILED = 2;

  /** The name {@code --only} knows the metrics cost measurement by. */
  static final String METRICS_COST = "METRICS";

  private final BenchPlan plan;
  private final Path cachesyncJar;
  private final boolean keepLogs;
  private final PrintStream out;
  private final Progress progress;

  /** The workloads to run (W1 to W8, C1 and C4, METRICS for the metrics cost); all when empty. */
  private final java.util.Set<String> only;

  Benchmark(
      BenchPlan plan,
      Path cachesyncJar,
      boolean keepLogs,
      java.util.Set<String> only,
      PrintStream out,
      PrintStream err) {
    this.plan = plan;
    this.only = only;
    this.cachesyncJar = cachesyncJar;
    this.keepLogs = keepLogs;
    this.out = out;
    this.progress = new Progress(err);
  }

  public static void main(String[] args) {
    BenchPlan plan = BenchPlan.full();
    Path jar = Path.of("synchronizer", "target", "cachesync.jar");
    boolean keep = false;
    java.util.Set<String> only = java.util.Set.of();
    for (String arg : args) {
      if (arg.equals("--quick")) {
        plan = BenchPlan.quick();
      } else if (arg.startsWith("--cachesync-jar=")) {
        jar = Path.of(arg.substring("--cachesync-jar=".length()));
      } else if (arg.equals("--keep-logs")) {
        keep = true;
      } else if (arg.matches("--metrics-pairs=[1-9][0-9]*")) {
        plan = plan.withMetricsPairs(Integer.parseInt(arg.substring("--metrics-pairs=".length())));
      } else if (arg.startsWith("--only=")) {
        only = java.util.Set.of(arg.substring("--only=".length()).toUpperCase().split(","));
      } else {
        System.err.println(
            "usage: bench [--quick] [--only=W1,W2,...,W8,C1,C4,metrics] [--metrics-pairs=N]"
                + " [--cachesync-jar=PATH] [--keep-logs]\n"
                + "  unknown argument: "
                + arg);
        System.exit(FAILED);
      }
    }
    System.exit(
        new Benchmark(plan, jar.toAbsolutePath(), keep, only, System.out, System.err).run());
  }

  int run() {
    Path work;
    try {
      work = Files.createTempDirectory("cachesync-bench-");
    } catch (IOException e) {
      progress.say("cannot create a work folder: %s", e.getMessage());
      return FAILED;
    }
    int exit = FAILED;
    try (BenchServers servers = BenchServers.start(!clusterWorkloads().isEmpty())) {
      exit = measure(servers, work);
    } catch (Exception e) {
      progress.say("the benchmark failed: %s", e);
      e.printStackTrace();
    } finally {
      if (keepLogs || exit != CONSISTENT) {
        progress.say("logs kept in %s", work);
      } else {
        delete(work);
      }
    }
    return exit;
  }

  private boolean selected(String workload) {
    return only.isEmpty() || only.contains(workload);
  }

  /** The cluster workloads to run (of {@link ClusterSuite#IDS}), in order. */
  private List<String> clusterWorkloads() {
    return ClusterSuite.IDS.stream().filter(this::selected).toList();
  }

  /**
   * Whether to measure what metrics cost: in a full run, or when {@code --only} names it (also with
   * {@code --quick}, at small sizes).
   */
  private boolean metricsCostSelected() {
    return only.contains(METRICS_COST) || (only.isEmpty() && !plan.name().equals("quick"));
  }

  private int measure(BenchServers servers, Path work) throws Exception {
    Machine machine =
        Machine.describe(
            servers.postgresVersion(), postgresSettings(servers), servers.redisVersion());
    progress.say(
        "%s run: PostgreSQL on port %d, Redis on port %d%s, logs in %s",
        plan.name(),
        servers.postgres.port(),
        servers.redis.port(),
        servers.cluster.map(c -> ", Redis Cluster on " + String.join(",", c.seeds())).orElse(""),
        work);
    Path benchJar =
        Path.of(Benchmark.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    CachesyncJar cachesync = new CachesyncJar(cachesyncJar, work);

    List<Workload> workloads =
        List.of(
            new NarrowInserts(plan.narrowInserts()),
            new WideUpdates(plan.wideUpdates(), plan.wideRows()),
            new Deletes(plan.deletes(), plan.lagChanges("W3")),
            new MixedTables(plan.mixedChanges()),
            new LargeTransaction(plan.largeTransactionRows()));
    workloads = workloads.stream().filter(w -> selected(w.id())).toList();
    ProcessCpu ticks = ProcessCpu.ofThisMachineOrAssumed();
    OptionalLong redisPid = servers.redisPid();
    try (CpuTimeline cpu = CpuTimeline.start(ticks)) {
      redisPid.ifPresent(cpu::watch);
      if (redisPid.isEmpty()) {
        progress.say("Redis did not say its process id (INFO server): no CPU figures for it");
      }
      return measure(servers, work, machine, benchJar, cachesync, workloads, cpu, redisPid);
    }
  }

  private int measure(
      BenchServers servers,
      Path work,
      Machine machine,
      Path benchJar,
      CachesyncJar cachesync,
      List<Workload> workloads,
      CpuTimeline cpu,
      OptionalLong redisPid)
      throws Exception {
    RedisBenchmark.Ceilings ceilings = null;
    if (!workloads.isEmpty() || selected("W6") || selected("W7")) {
      ceilings =
          new RedisBenchmark(
                  servers.redis.host(), servers.redis.port(), plan.redisBenchmarkRequests())
              .run();
      progress.say("redis-benchmark done");
    }
    List<WorkloadResult> results = new ArrayList<>();
    List<Verification.Target> targets = new ArrayList<>();
    if (!workloads.isEmpty()) {
      try (StreamingSuite streaming =
          StreamingSuite.prepare(
              servers, plan, cachesync, benchJar, work, progress, workloads, cpu, redisPid)) {
        results.addAll(streaming.run(workloads));
        targets.add(new Verification.Target("W1-W5", streaming.config()));
      }
    }
    Optional<ClusterComparison> cluster = Optional.empty();
    List<String> clusterWorkloads = clusterWorkloads();
    if (!clusterWorkloads.isEmpty()) {
      try (ClusterSuite suite =
          ClusterSuite.prepare(
              servers, plan, cachesync, work, progress, cpu, clusterWorkloads, redisPid)) {
        cluster = Optional.of(suite.run());
        String names = String.join(", ", clusterWorkloads);
        targets.add(new Verification.Target(names + " on one master", suite.oneMasterConfig()));
        targets.add(
            new Verification.Target(
                names + " on " + BenchServers.CLUSTER_MASTERS + " masters", suite.clusterConfig()));
      }
    }
    if (selected("W6")) {
      ResyncSuite resync =
          new ResyncSuite(servers, plan, cachesync, benchJar, work, progress, cpu, redisPid);
      results.add(resync.run());
      targets.add(new Verification.Target("W6", resync.config()));
    }
    Optional<VerifyResult> verify = Optional.empty();
    if (selected("W7") || selected("W8")) {
      FirstStartSuite firstStart =
          new FirstStartSuite(servers, plan, cachesync, work, progress, cpu, redisPid);
      FirstStartSuite.Result measured = firstStart.run(selected("W7"), selected("W8"));
      measured.load().ifPresent(results::add);
      verify = measured.verify();
      if (verify.isEmpty()) {
        targets.add(new Verification.Target("W7", firstStart.config()));
      }
    }
    Optional<MetricsCost> metricsCost = Optional.empty();
    if (metricsCostSelected()) {
      MetricsCostSuite suite = new MetricsCostSuite(servers, plan, cachesync, work, progress);
      metricsCost = Optional.of(suite.run());
      targets.add(new Verification.Target("metrics cost", suite.config()));
    }
    progress.say(
        "correctness check: cachesync verify of every table%s%s",
        verify.isPresent() ? " (W7's: W8's first verify)" : "",
        plan.verifySample() > 0 ? ", " + plan.verifySample() + " rows and keys each" : "");
    Verification.Verdict verdict =
        new Verification(cachesync, plan.verifySample(), plan.timeout()).check(targets);
    if (verify.isPresent()) {
      verdict = verdict.and(Verification.ofW8(verify.get()));
    }

    ResultTable table = new ResultTable(out);
    table.header(plan.name(), machine);
    if (!results.isEmpty()) {
      table.print(
          results,
          ceilings,
          lagLabels(),
          cpu.cpu().ticksPerSecond()
              + " ticks a second, "
              + (cpu.cpu().assumed() ? "assumed: getconf CLK_TCK failed" : "getconf CLK_TCK"));
      out.println();
    }
    if (verify.isPresent()) {
      table.printVerify(verify.get());
      out.println();
    }
    if (cluster.isPresent()) {
      new ClusterSection(out).print(cluster.get(), machine.cores());
      out.println();
    }
    if (metricsCost.isPresent()) {
      new MetricsCostSection(out).print(metricsCost.get());
    } else if (only.isEmpty()) {
      out.println(
          "metrics cost: not measured in the quick run (two more daemon starts, and its small"
              + " backlogs measure JVM start-up, not metrics); scripts/bench --only=metrics"
              + " measures it alone");
    }
    out.println();
    verdict.lines().forEach(out::println);
    out.printf("took %.0f s%n", progress.seconds());
    return verdict.consistent() ? CONSISTENT : DRIFT;
  }

  /** The label of each lag measurement: the fixed rates, then the share of the catch-up rate. */
  private List<String> lagLabels() {
    String seconds = plan.lagPerRate().toSeconds() + " s";
    List<String> labels = new ArrayList<>();
    for (int rate : plan.lagRates()) {
      labels.add(String.format("offered %,d/s for %s", rate, seconds));
    }
    labels.add(
        String.format("offered %.0f%% of catch-up for %s", plan.lagDrainShare() * 100, seconds));
    return labels;
  }

  private static String postgresSettings(BenchServers servers) throws Exception {
    List<String> settings = new ArrayList<>();
    for (String name :
        List.of(
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "shared_buffers",
            "logical_decoding_work_mem",
            "track_commit_timestamp")) {
      settings.add(name + "=" + servers.postgresSetting(name));
    }
    return String.join(", ", settings);
  }

  private static void delete(Path directory) {
    try (Stream<Path> paths = Files.walk(directory)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      // A leftover temporary folder is harmless.
    }
  }
}
