package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.consumer.DaemonRun;
import io.cachesync.bench.measure.CpuQuota;
import io.cachesync.bench.measure.CpuTimeline;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.SlotWatch;
import io.cachesync.bench.measure.WalSenders;
import io.cachesync.bench.report.ClusterComparison;
import io.cachesync.bench.report.ClusterComparison.Drained;
import io.cachesync.bench.workload.MixedTables;
import io.cachesync.bench.workload.NarrowInserts;
import io.cachesync.bench.workload.Workload;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.RedisCluster;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisHashCommands;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.BinaryOperator;
import java.util.function.Supplier;

/**
 * C1 and C4: W1's backlog (narrow single-row inserts) and W4's (a mix over three tables) drained by
 * the daemon on a Redis Cluster ({@code redis-cluster://}: the cluster writer splits each batch per
 * master and sends the parts at once) and by the daemon on one Redis ({@code redis://}), the same
 * backlogs from the same WAL.
 *
 * <p>One database ({@value #NAME}) and two synchronizers on it, each with its own slot: {@value
 * #ONE_MASTER} in Redis database {@value #DATABASE} of the run's Redis, and {@value #ON_CLUSTER} on
 * the run's cluster. Both daemons start at once, load the initial rows, stream an update of the
 * marker row and stay up for the whole suite. Each round holds both still ({@code SIGSTOP}), writes
 * each workload's backlog closed by the marker, then resumes ({@code SIGCONT}) each daemon in turn,
 * alone on the machine, times it from its resume to each backlog's marker in its Redis (each
 * backlog a segment of the stream, as in {@link StreamingSuite}) and holds it still again. The
 * first round is each JVM's first drain (JIT cold), later ones are warm; the order alternates (one
 * master first in odd rounds), so that neither always reads the WAL first. Over each segment the
 * CPU time of the daemon's JVM, its WAL sender and its redis-server (the cluster's: every master's
 * together) is read.
 *
 * <p>On the cluster the marker's key lives on one master: it can show there while the other masters
 * still write their parts of the same batch (the writer sends the parts at once and waits for all
 * before the next batch), so a drain's end is seen up to one batch's write early.
 */
final class ClusterSuite implements AutoCloseable {
  /** The workloads, as {@code --only} names them. */
  static final List<String> IDS = List.of("C1", "C4");

  static final String NAME = "cluster";
  static final String ONE_MASTER = "onemaster";
  static final String ON_CLUSTER = "oncluster";
  private static final int DATABASE = 6;

  /** A cluster workload: W1's or W4's backlog under another id. */
  private record Named(String id, Workload workload) {}

  /** One workload's backlog of one round, as written: its changes and the closing marker value. */
  private record Backlog(Named workload, long changes, long marker) {}

  /**
   * One of the two synchronizers: its configuration, its slot, the Redis its daemon writes to, the
   * redis-server processes behind it, and its daemon once started.
   */
  private static final class Deployment implements AutoCloseable {
    final String label;
    final String slot;
    final Path config;
    final Supplier<? extends RedisHashCommands<String, String>> redis;
    final List<Long> redisPids;
    final AutoCloseable connection;
    final Runnable shutdown;
    DaemonRun daemon;

    Deployment(
        String label,
        String name,
        Path config,
        Supplier<? extends RedisHashCommands<String, String>> redis,
        List<Long> redisPids,
        AutoCloseable connection,
        Runnable shutdown) {
      this.label = label;
      this.slot = "cachesync_" + name;
      this.config = config;
      this.redis = redis;
      this.redisPids = List.copyOf(redisPids);
      this.connection = connection;
      this.shutdown = shutdown;
    }

    @Override
    public void close() throws Exception {
      try {
        if (daemon != null) {
          daemon.close();
        }
        connection.close();
      } finally {
        shutdown.run();
      }
    }
  }

  private final BenchPlan plan;
  private final CachesyncJar cachesync;
  private final Progress progress;
  private final CpuTimeline cpu;
  private final List<Named> workloads;
  private final int masters;
  private final Connection connection;
  private final SlotWatch watch;
  private final WalSenders walSenders;
  private final MarkerRow marker;
  private final Deployment oneMaster;
  private final Deployment onCluster;

  private ClusterSuite(
      BenchPlan plan,
      CachesyncJar cachesync,
      Progress progress,
      CpuTimeline cpu,
      List<Named> workloads,
      int masters,
      Connection connection,
      SlotWatch watch,
      WalSenders walSenders,
      Deployment oneMaster,
      Deployment onCluster) {
    this.plan = plan;
    this.cachesync = cachesync;
    this.progress = progress;
    this.cpu = cpu;
    this.workloads = workloads;
    this.masters = masters;
    this.connection = connection;
    this.watch = watch;
    this.walSenders = walSenders;
    this.oneMaster = oneMaster;
    this.onCluster = onCluster;
    this.marker = new MarkerRow(connection, oneMaster.redis);
  }

  /**
   * Creates the database with the tables and initial rows of the workloads {@code ids} names (of
   * {@link #IDS}) and both synchronizers' configurations; starts no daemon yet.
   *
   * @param redisPid the process id of the run's Redis, when it said
   */
  static ClusterSuite prepare(
      BenchServers servers,
      BenchPlan plan,
      CachesyncJar cachesync,
      Path work,
      Progress progress,
      CpuTimeline cpu,
      List<String> ids,
      OptionalLong redisPid)
      throws Exception {
    RedisCluster cluster =
        servers.cluster.orElseThrow(
            () -> new IllegalStateException("the cluster workloads need the run's Redis Cluster"));
    List<Named> workloads = new ArrayList<>();
    if (ids.contains("C1")) {
      workloads.add(new Named("C1", new NarrowInserts(plan.clusterInserts())));
    }
    if (ids.contains("C4")) {
      workloads.add(new Named("C4", new MixedTables(plan.clusterMixedChanges())));
    }
    String database = servers.postgres.createDatabase(NAME);
    StringBuilder mapping = new StringBuilder(MarkerRow.MAPPING);
    List<String> statements = new ArrayList<>(MarkerRow.SCHEMA);
    for (Named named : workloads) {
      statements.addAll(named.workload().schema());
      statements.addAll(named.workload().initialRows());
      mapping.append(named.workload().mapping());
    }
    statements.add("ANALYZE");
    servers.postgres.execute(database, statements.toArray(String[]::new));
    String postgres = ConfigFiles.postgres(servers.postgres, database);

    String oneMasterUri = servers.redis.uri() + "/" + DATABASE;
    RedisClient oneClient = RedisClient.create(oneMasterUri);
    StatefulRedisConnection<String, String> one = oneClient.connect();
    Deployment oneMaster =
        new Deployment(
            "one master",
            ONE_MASTER,
            ConfigFiles.write(
                work.resolve(ONE_MASTER), ONE_MASTER, postgres, oneMasterUri, mapping.toString()),
            one::sync,
            redisPid.isPresent() ? List.of(redisPid.getAsLong()) : List.of(),
            one,
            oneClient::shutdown);
    Deployment onCluster = null;
    try {
      RedisClusterClient clusterClient =
          RedisClusterClient.create(
              cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
      StatefulRedisClusterConnection<String, String> routed = clusterClient.connect();
      onCluster =
          new Deployment(
              cluster.masters().size() + " masters",
              ON_CLUSTER,
              ConfigFiles.write(
                  work.resolve(ON_CLUSTER),
                  ON_CLUSTER,
                  postgres,
                  cluster.uri(),
                  mapping.toString()),
              routed::sync,
              servers.clusterPids().orElse(List.of()),
              routed,
              clusterClient::shutdown);
      WalSenders walSenders = new WalSenders(servers.postgres.connect(database), cpu);
      return new ClusterSuite(
          plan,
          cachesync,
          progress,
          cpu,
          workloads,
          cluster.masters().size(),
          servers.postgres.connect(database),
          new SlotWatch(servers.postgres.connect(database)),
          walSenders,
          oneMaster,
          onCluster);
    } catch (Exception | Error e) {
      oneMaster.close();
      if (onCluster != null) {
        onCluster.close();
      }
      throw e;
    }
  }

  /** The configuration of the synchronizer on one Redis, for the correctness check. */
  Path oneMasterConfig() {
    return oneMaster.config;
  }

  /** The configuration of the synchronizer on the cluster, for the correctness check. */
  Path clusterConfig() {
    return onCluster.config;
  }

  /**
   * Starts both daemons, lets them load and stream, then drains the plan's rounds of backlogs with
   * each in turn, and stops both.
   */
  ClusterComparison run() throws Exception {
    start();
    List<List<ClusterComparison.Round>> rounds = new ArrayList<>();
    workloads.forEach(w -> rounds.add(new ArrayList<>()));
    for (int round = 1; round <= plan.clusterRounds(); round++) {
      round(round, round == 1 ? "JIT cold" : "warm, same JVMs", 0, rounds);
    }
    if (plan.clusterRedisShare() > 0) {
      Optional<String> unavailable = CpuQuota.unavailable();
      List<Long> pids = new ArrayList<>(oneMaster.redisPids);
      pids.addAll(onCluster.redisPids);
      if (unavailable.isPresent() || pids.size() < 1 + masters) {
        progress.say(
            "%s: no round with Redis held to %.0f%% of a core: %s",
            ids(),
            plan.clusterRedisShare() * 100,
            unavailable.orElse("the redis-servers' process ids are not known"));
      } else {
        try (CpuQuota quota = CpuQuota.hold(pids, plan.clusterRedisShare())) {
          round(
              plan.clusterRounds() + 1,
              String.format(
                  "warm, each redis-server held to %.0f%% of one core",
                  plan.clusterRedisShare() * 100),
              plan.clusterRedisShare(),
              rounds);
        }
      }
    }
    stop(oneMaster);
    stop(onCluster);
    List<ClusterComparison.Workload> results = new ArrayList<>();
    for (int i = 0; i < workloads.size(); i++) {
      Workload workload = workloads.get(i).workload();
      results.add(
          new ClusterComparison.Workload(workloads.get(i).id(), workload.title(), rounds.get(i)));
    }
    return new ClusterComparison(masters, results);
  }

  /**
   * One round: both daemons held still while each workload's backlog is written, then each drains
   * them in turn (one master first in odd rounds); the measurements go to {@code rounds}, one list
   * per workload.
   */
  private void round(
      int round, String condition, double redisShare, List<List<ClusterComparison.Round>> rounds)
      throws Exception {
    oneMaster.daemon.pause();
    onCluster.daemon.pause();
    List<Backlog> backlogs = new ArrayList<>();
    for (Named named : workloads) {
      long started = System.nanoTime();
      long changes = named.workload().writeBacklog(connection);
      backlogs.add(new Backlog(named, changes, marker.bump()));
      progress.say(
          "%s round %d: backlog of %,d changes written in %.1f s",
          named.id(), round, changes, (System.nanoTime() - started) / 1e9);
    }
    boolean oneMasterFirst = round % 2 == 1;
    List<Drained> first = drain(oneMasterFirst ? oneMaster : onCluster, backlogs);
    List<Drained> second = drain(oneMasterFirst ? onCluster : oneMaster, backlogs);
    for (int i = 0; i < workloads.size(); i++) {
      ClusterComparison.Round measured =
          oneMasterFirst
              ? new ClusterComparison.Round(first.get(i), second.get(i), condition, redisShare)
              : new ClusterComparison.Round(second.get(i), first.get(i), condition, redisShare);
      rounds.get(i).add(measured);
      progress.say(
          "%s round %d (%s), changes/s: one master %,.0f, %s %,.0f (ratio %.2f)",
          workloads.get(i).id(),
          round,
          condition,
          measured.oneMaster().drain().rate(),
          onCluster.label,
          measured.cluster().drain().rate(),
          measured.ratio());
    }
  }

  /**
   * Starts both daemons at once (nothing is measured yet): each creates its slot and publication
   * and loads the initial rows. Each is streaming once its Redis holds the marker's update made
   * after it held the loaded value: the load's snapshot was taken before the update, so only the
   * stream, which starts after the load, can bring it.
   */
  private void start() throws Exception {
    progress.say(
        "%s: both daemons start (one master, %s), loading the initial rows",
        ids(), onCluster.label);
    oneMaster.daemon = cachesync.run(oneMaster.config, "cluster-suite-" + ONE_MASTER);
    onCluster.daemon = cachesync.run(onCluster.config, "cluster-suite-" + ON_CLUSTER);
    for (Deployment deployment : List.of(oneMaster, onCluster)) {
      cpu.watch(deployment.daemon.pid());
      deployment.redisPids.forEach(cpu::watch);
      walSenders.track(deployment.slot);
      awaitMarker(deployment, 0);
    }
    long update = marker.bump();
    for (Deployment deployment : List.of(oneMaster, onCluster)) {
      awaitMarker(deployment, update);
    }
    progress.say("%s: both daemons loaded and streaming", ids());
  }

  /** The workloads' ids, for progress lines: {@code C1/C4}. */
  private String ids() {
    return String.join("/", workloads.stream().map(Named::id).toList());
  }

  /**
   * Resumes the daemon, times it to each backlog's marker in its Redis, and holds it still again.
   */
  private List<Drained> drain(Deployment deployment, List<Backlog> backlogs) {
    long start = deployment.daemon.resume();
    List<Drained> drained = new ArrayList<>();
    for (Backlog backlog : backlogs) {
      long end = awaitMarker(deployment, backlog.marker());
      drained.add(
          new Drained(
              Drain.of(backlog.changes(), start, end),
              cpu.between(deployment.daemon.pid(), start, end),
              walSenders.between(deployment.slot, start, end),
              redisCpu(deployment, start, end, Duration::plus),
              redisCpu(deployment, start, end, (a, b) -> a.compareTo(b) >= 0 ? a : b)));
      start = end;
    }
    deployment.daemon.pause();
    return drained;
  }

  /**
   * The CPU times of the redis-servers behind the deployment, combined by {@code combine} (their
   * sum, or the largest); empty when any lacks.
   */
  private Optional<Duration> redisCpu(
      Deployment deployment, long from, long to, BinaryOperator<Duration> combine) {
    if (deployment.redisPids.isEmpty()) {
      return Optional.empty();
    }
    Duration combined = null;
    for (long pid : deployment.redisPids) {
      Optional<Duration> used = cpu.between(pid, from, to);
      if (used.isEmpty()) {
        return Optional.empty();
      }
      combined = combined == null ? used.get() : combine.apply(combined, used.get());
    }
    return Optional.of(combined);
  }

  private long awaitMarker(Deployment deployment, long n) {
    return MarkerRow.awaitCached(n, deployment.redis, deployment.daemon, plan.timeout());
  }

  /** Lets the daemon go on, and stops it with SIGTERM once it let go of its slot. */
  private void stop(Deployment deployment) throws Exception {
    deployment.daemon.resume();
    deployment.daemon.stop();
    watch.awaitInactive(deployment.slot, Duration.ofSeconds(30));
  }

  @Override
  public void close() throws Exception {
    try {
      oneMaster.close();
      onCluster.close();
      walSenders.close();
    } finally {
      watch.close();
      connection.close();
    }
  }
}
