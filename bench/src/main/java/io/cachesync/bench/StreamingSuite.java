package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.consumer.DaemonRun;
import io.cachesync.bench.consumer.Recvlogical;
import io.cachesync.bench.consumer.ReferenceProcess;
import io.cachesync.bench.measure.CpuTimeline;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.LagProbe;
import io.cachesync.bench.measure.LagResult;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.SlotWatch;
import io.cachesync.bench.measure.WalSenders;
import io.cachesync.bench.report.ProcessCosts;
import io.cachesync.bench.report.WarmDrain;
import io.cachesync.bench.report.WorkloadResult;
import io.cachesync.bench.workload.LagOperation;
import io.cachesync.bench.workload.Workload;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.RedisProbe;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Collectors;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;

/**
 * W1 to W5 on one database and one synchronizer ({@value #NAME}). The daemon starts once to load
 * the initial rows and create its slot, and stops; the reference slots are created; the five
 * backlogs are written one after the other, each closed by an update of a marker row. Then
 * pg_recvlogical, Debezium alone, the naive synchronizer and the cachesync daemon drain the whole
 * stream one after the other, each alone on the machine, and each workload is timed as a segment of
 * that stream (see {@link #run}), with the CPU time of the JVMs, their WAL senders and Redis over
 * each segment. Debezium alone is then held still ({@code SIGSTOP}) until the warm catch-up, which
 * follows the daemon's (see {@link #warm}). The daemon then stays up, caught up, for the lag
 * measurement, and is stopped.
 *
 * <p>The three Debezium consumers are timed alike: the first segment starts when the consumer's
 * replication slot becomes active (the connector starts streaming; JVM and connector start are
 * excluded, JIT warm-up is not), every other one at the previous segment's marker.
 */
final class StreamingSuite implements AutoCloseable {
  static final String NAME = "bench";
  private static final String SLOT = "cachesync_" + NAME;
  private static final String PUBLICATION = "cachesync_" + NAME;
  private static final String RECVLOGICAL_SLOT = "bench_recvlogical";
  private static final String DEBEZIUM_SLOT = "bench_debezium_alone";
  private static final String NAIVE_SLOT = "bench_naive";
  private static final List<String> REFERENCE_SLOTS =
      List.of(RECVLOGICAL_SLOT, DEBEZIUM_SLOT, NAIVE_SLOT);

  private final BenchServers servers;
  private final BenchPlan plan;
  private final CachesyncJar cachesync;
  private final Path benchJar;
  private final Path logs;
  private final Progress progress;
  private final String database;
  private final Path config;
  private final Connection connection;
  private final SlotWatch watch;
  private final RedisProbe redis;
  private final RedisClient lettuce;
  private final Recvlogical recvlogical;
  private final CpuTimeline cpu;
  private final OptionalLong redisPid;
  private final WalSenders walSenders;

  private final MarkerRow marker;

  private StreamingSuite(
      BenchServers servers,
      BenchPlan plan,
      CachesyncJar cachesync,
      Path benchJar,
      Path work,
      Progress progress,
      String database,
      Path config,
      CpuTimeline cpu,
      OptionalLong redisPid)
      throws SQLException {
    this.cpu = cpu;
    this.redisPid = redisPid;
    this.walSenders = new WalSenders(servers.postgres.connect(database), cpu);
    this.servers = servers;
    this.plan = plan;
    this.cachesync = cachesync;
    this.benchJar = benchJar;
    this.logs = work;
    this.progress = progress;
    this.database = database;
    this.config = config;
    this.connection = servers.postgres.connect(database);
    this.watch = new SlotWatch(servers.postgres.connect(database));
    this.redis = new RedisProbe(servers.redis);
    this.marker = new MarkerRow(connection, redis::redis);
    this.lettuce = RedisClient.create(servers.redis.uri());
    this.recvlogical =
        new Recvlogical(
            servers.postgresBinaries().resolve("pg_recvlogical"),
            servers.postgres.host(),
            servers.postgres.port(),
            database,
            work.resolve("pg_recvlogical.log"));
  }

  /**
   * Creates the database with every workload's tables and initial rows, and runs the daemon once:
   * it creates its publication and slot and loads the initial rows.
   */
  static StreamingSuite prepare(
      BenchServers servers,
      BenchPlan plan,
      CachesyncJar cachesync,
      Path benchJar,
      Path work,
      Progress progress,
      List<Workload> workloads,
      CpuTimeline cpu,
      OptionalLong redisPid)
      throws Exception {
    String database = servers.postgres.createDatabase(NAME);
    StringBuilder mapping = new StringBuilder(MarkerRow.MAPPING);
    List<String> statements = new ArrayList<>(MarkerRow.SCHEMA);
    for (Workload workload : workloads) {
      statements.addAll(workload.schema());
      statements.addAll(workload.initialRows());
      mapping.append(workload.mapping());
    }
    statements.add("ANALYZE");
    servers.postgres.execute(database, statements.toArray(String[]::new));
    Path config =
        ConfigFiles.write(
            work.resolve(NAME),
            NAME,
            ConfigFiles.postgres(servers.postgres, database),
            servers.redis.uri(),
            mapping.toString());
    StreamingSuite suite =
        new StreamingSuite(
            servers, plan, cachesync, benchJar, work, progress, database, config, cpu, redisPid);
    suite.firstStart();
    return suite;
  }

  /**
   * Stops the daemon only once its slot is confirmed past the marker's update: its offsets then say
   * that the initial load is done. A daemon stopped while it still writes the load's last batch
   * gives that batch up (the engine's stop interrupts its wait for Redis), and the next start loads
   * every table again from a new snapshot and skips the changes made in between: the backlogs would
   * never be streamed.
   */
  private void firstStart() throws Exception {
    progress.say("daemon: first start, loading the initial rows");
    try (DaemonRun daemon = cachesync.run(config, "daemon-first-start")) {
      awaitMarker(0, daemon);
      String beforeUpdate = marker.currentLsn();
      awaitMarker(marker.bump(), daemon);
      watch.awaitConfirmedPast(SLOT, beforeUpdate, plan.timeout());
      daemon.stop();
    }
    watch.awaitInactive(SLOT, Duration.ofSeconds(30));
    progress.say("daemon: loaded and streaming; stopped");
  }

  /** One workload's backlog, as written: its changes and the marker value that closes it. */
  private record Backlog(Workload workload, long changes, long marker, String endLsn) {}

  /**
   * What one consumer did on each backlog, in order, with the CPU time of its JVM and of its WAL
   * sender over each drain.
   */
  private record Drains(
      List<Drain> drains,
      List<Memory> memory,
      List<Boolean> partial,
      List<Optional<Duration>> jvmCpu,
      List<Optional<Duration>> walSenderCpu,
      List<String> notes) {}

  /**
   * Writes every workload's backlog, one after the other, each closed by the marker; then lets each
   * consumer drain them all, and times each backlog as a segment of the stream: from the end of the
   * previous one (for the first: the moment the consumer's slot became active) to its marker. One
   * start per consumer, so the first workload also pays for warming up the JVM. Then the warm
   * catch-up of the workloads the plan names ({@link #warm}), and the lag measurement.
   */
  List<WorkloadResult> run(List<Workload> workloads) throws Exception {
    createReferenceSlots();
    List<Workload> warmWorkloads =
        workloads.stream().filter(w -> plan.warmWorkloads().contains(w.id())).toList();
    long lastColdMarker = marker.value() + workloads.size();
    List<Backlog> backlogs = new ArrayList<>();
    Drains recv;
    Drains alone;
    Drains naive;
    // The reference JVMs boot while the backlogs are written, then wait for their turn. Debezium
    // alone goes on to the warm backlogs' markers.
    try (ReferenceProcess aloneProcess =
            ReferenceProcess.stream(
                benchJar,
                ReferenceProcess.DEBEZIUM_ALONE,
                config,
                DEBEZIUM_SLOT,
                // Until closed: after the warm backlogs it takes the lag measurement's load too.
                -1,
                plan.timeout(),
                logs.resolve("debezium-alone.log"));
        ReferenceProcess naiveProcess =
            ReferenceProcess.stream(
                benchJar,
                ReferenceProcess.NAIVE,
                config,
                NAIVE_SLOT,
                lastColdMarker,
                plan.naiveWriteBudget(),
                logs.resolve("naive.log"))) {
      cpu.watch(aloneProcess.pid());
      for (Workload workload : workloads) {
        backlogs.add(writeBacklog(workload));
      }
      recv = recvlogical(backlogs);
      alone = reference(aloneProcess, DEBEZIUM_SLOT, "Debezium alone", backlogs);
      if (warmWorkloads.isEmpty()) {
        aloneProcess.close();
        watch.drop(DEBEZIUM_SLOT, Duration.ofSeconds(30));
      } else {
        // Held still, caught up and warm, until the warm catch-up: no WAL is written meanwhile.
        aloneProcess.pause();
      }
      naive = reference(naiveProcess, NAIVE_SLOT, "naive synchronizer", backlogs);
      naiveProcess.close();
      flushNaiveDatabase();
      watch.drop(RECVLOGICAL_SLOT, Duration.ofSeconds(30));
      watch.drop(NAIVE_SLOT, Duration.ofSeconds(30));
      return drainWithDaemon(backlogs, recv, alone, naive, warmWorkloads, aloneProcess);
    }
  }

  private Backlog writeBacklog(Workload workload) throws SQLException {
    long started = System.nanoTime();
    long changes = workload.writeBacklog(connection);
    long closing = marker.bump();
    String endLsn = marker.currentLsn();
    progress.say(
        "%s: backlog of %,d changes written in %.1f s",
        workload.id(), changes, (System.nanoTime() - started) / 1e9);
    return new Backlog(workload, changes, closing, endLsn);
  }

  private Drains recvlogical(List<Backlog> backlogs) throws Exception {
    List<Drain> drains = new ArrayList<>();
    for (Backlog backlog : backlogs) {
      drains.add(
          recvlogical.drain(
              RECVLOGICAL_SLOT, PUBLICATION, backlog.endLsn(), backlog.changes(), plan.timeout()));
    }
    say("pg_recvlogical", backlogs, drains);
    return new Drains(drains, List.of(), List.of(), List.of(), List.of(), List.of());
  }

  /**
   * Lets a reference consumer drain the backlogs, each segment's CPU time read for its JVM and its
   * WAL sender; the caller then stops it (or holds it still), so that the next consumer drains
   * alone on the machine.
   */
  private Drains reference(
      ReferenceProcess consumer, String slot, String name, List<Backlog> backlogs)
      throws Exception {
    long go = System.nanoTime();
    consumer.go();
    walSenders.track(slot);
    long streaming = watch.awaitActive(slot, plan.timeout(), () -> !consumer.alive());
    List<Drain> drains = new ArrayList<>();
    List<Memory> memory = new ArrayList<>();
    List<Boolean> partial = new ArrayList<>();
    List<Optional<Duration>> jvmCpu = new ArrayList<>();
    List<Optional<Duration>> walSenderCpu = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (Backlog backlog : backlogs) {
      ReferenceProcess.Segment segment = consumer.awaitSegment(plan.timeout());
      String id = backlog.workload().id();
      if (segment.marker() != backlog.marker()) {
        throw new IllegalStateException(
            name + " ended a segment at marker " + segment.marker() + ", not " + backlog.marker());
      }
      if (drains.isEmpty()) {
        notes.add(
            String.format(
                "%s: %.1f s from its engine's start to streaming, %.2f s more to its first change",
                name, (streaming - go) / 1e9, (segment.first() - streaming) / 1e9));
        segment = segment.startingAt(streaming);
      }
      if (segment.changes() != backlog.changes()) {
        notes.add(
            String.format(
                "%s: %s counted %,d changes where the workload made %,d",
                id, name, segment.changes(), backlog.changes()));
      }
      if (segment.budgetRanOut()) {
        notes.add(
            String.format(
                "%s: %s measured on the %,d changes it wrote in its first %d s (of %,d)",
                id,
                name,
                segment.written(),
                plan.naiveWriteBudget().toSeconds(),
                segment.changes()));
      }
      drains.add(segment.drain(backlog.changes()));
      memory.add(consumer.memoryBetween(segment.start(), segment.end()));
      partial.add(segment.budgetRanOut());
      jvmCpu.add(cpu.between(consumer.pid(), segment.start(), segment.end()));
      walSenderCpu.add(walSenders.between(slot, segment.start(), segment.end()));
    }
    say(name, backlogs, drains);
    sayWalSenders(name, slot);
    return new Drains(drains, memory, partial, jvmCpu, walSenderCpu, notes);
  }

  /**
   * Which WAL senders served the consumer's slot: Debezium resuming from a stored offset (the
   * daemon) streams, finds its position and reconnects, so its slot has two.
   */
  private void sayWalSenders(String consumer, String slot) {
    List<Long> pids = walSenders.pids(slot);
    progress.say(
        "%s: %s",
        consumer,
        pids.isEmpty()
            ? "no WAL sender found for its slot: no CPU figures for it"
            : "WAL senders of its slot: processes "
                + pids.stream().map(String::valueOf).collect(Collectors.joining(", ")));
  }

  private Optional<Duration> cpuBetween(OptionalLong pid, long from, long to) {
    return pid.isPresent() ? cpu.between(pid.getAsLong(), from, to) : Optional.empty();
  }

  private List<WorkloadResult> drainWithDaemon(
      List<Backlog> backlogs,
      Drains recv,
      Drains alone,
      Drains naive,
      List<Workload> warmWorkloads,
      ReferenceProcess aloneProcess)
      throws Exception {
    long launched = System.nanoTime();
    try (DaemonRun daemon = cachesync.run(config, "daemon")) {
      cpu.watch(daemon.pid());
      walSenders.track(SLOT);
      long start = awaitStreaming(daemon);
      List<String> notes = new ArrayList<>();
      notes.add(
          String.format(
              "cachesync: %.1f s from the daemon's JVM start to streaming",
              (start - launched) / 1e9));
      List<Drain> drains = new ArrayList<>();
      List<Memory> memory = new ArrayList<>();
      List<ProcessCosts> costs = new ArrayList<>();
      for (int i = 0; i < backlogs.size(); i++) {
        long end = awaitMarker(backlogs.get(i).marker(), daemon);
        drains.add(Drain.of(backlogs.get(i).changes(), start, end));
        memory.add(daemon.memoryBetween(start, end));
        costs.add(
            new ProcessCosts(
                cpu.between(daemon.pid(), start, end),
                walSenders.between(SLOT, start, end),
                cpuBetween(redisPid, start, end),
                alone.jvmCpu().get(i),
                alone.walSenderCpu().get(i)));
        start = end;
      }
      say("cachesync", backlogs, drains);
      sayWalSenders("cachesync", SLOT);
      Map<String, WarmDrain> warm = new HashMap<>();
      Optional<ReferenceProcess> aloneForLag = Optional.empty();
      if (!warmWorkloads.isEmpty()) {
        warm = warm(warmWorkloads, daemon, aloneProcess, notes);
        aloneForLag = Optional.of(aloneProcess);
      }
      Map<String, List<LagResult>> lags = new HashMap<>();
      for (int i = 0; i < backlogs.size(); i++) {
        Workload workload = backlogs.get(i).workload();
        if (plan.lagWorkloads().contains(workload.id()) && workload.lag().isPresent()) {
          double drainRate =
              Optional.ofNullable(warm.get(workload.id()))
                  .map(w -> w.cachesync().rate())
                  .orElse(drains.get(i).rate());
          lags.put(
              workload.id(),
              lag(workload.id(), workload.lag().get(), drainRate, daemon, aloneForLag, notes));
        }
      }
      if (aloneForLag.isPresent()) {
        aloneProcess.close();
        watch.drop(DEBEZIUM_SLOT, Duration.ofSeconds(30));
      }
      daemon.stop();
      watch.awaitInactive(SLOT, Duration.ofSeconds(30));
      notes.addAll(alone.notes());
      notes.addAll(naive.notes());
      List<WorkloadResult> results = new ArrayList<>();
      for (int i = 0; i < backlogs.size(); i++) {
        Workload workload = backlogs.get(i).workload();
        results.add(
            new WorkloadResult(
                workload.id(),
                workload.title(),
                backlogs.get(i).changes(),
                drains.get(i),
                recv.drains().get(i),
                Optional.of(alone.drains().get(i)),
                Optional.of(naive.drains().get(i)),
                naive.partial().get(i),
                memory.get(i),
                alone.memory().get(i),
                costs.get(i),
                Optional.ofNullable(warm.get(workload.id())),
                lags.getOrDefault(workload.id(), List.of()),
                i == 0 ? notes : List.of()));
      }
      return results;
    }
  }

  /**
   * The warm catch-up: with the daemon and Debezium alone both caught up after the backlogs above,
   * for each workload, both are held still ({@code SIGSTOP}) while a second backlog is written and
   * closed by the marker; then Debezium alone is resumed ({@code SIGCONT}) and timed to the marker,
   * held still again, and the daemon is resumed and timed to the marker in Redis. Each drains alone
   * on the machine with a warm JVM; each one's WAL sender may have sent part of the backlog ahead
   * into its socket while it was held.
   */
  private Map<String, WarmDrain> warm(
      List<Workload> workloads, DaemonRun daemon, ReferenceProcess alone, List<String> notes)
      throws Exception {
    Map<String, WarmDrain> warm = new HashMap<>();
    for (Workload workload : workloads) {
      daemon.pause();
      Backlog backlog = writeBacklog(workload);
      long aloneStart = alone.resume();
      ReferenceProcess.Segment segment = alone.awaitSegment(plan.timeout());
      alone.pause();
      if (segment.marker() != backlog.marker()) {
        throw new IllegalStateException(
            "Debezium alone ended a warm segment at marker "
                + segment.marker()
                + ", not "
                + backlog.marker());
      }
      if (segment.changes() != backlog.changes()) {
        notes.add(
            String.format(
                "%s warm: Debezium alone counted %,d changes where the workload made %,d",
                workload.id(), segment.changes(), backlog.changes()));
      }
      long daemonStart = daemon.resume();
      long daemonEnd = awaitMarker(backlog.marker(), daemon);
      WarmDrain drain =
          new WarmDrain(
              Drain.of(backlog.changes(), daemonStart, daemonEnd),
              Drain.of(backlog.changes(), aloneStart, segment.end()),
              cpu.between(daemon.pid(), daemonStart, daemonEnd),
              cpu.between(alone.pid(), aloneStart, segment.end()));
      warm.put(workload.id(), drain);
      progress.say(
          "%s warm: cachesync %,.0f changes/s (%s CPU s per 100,000), Debezium alone %,.0f (%s)",
          workload.id(),
          drain.cachesync().rate(),
          perHundredThousand(drain.cachesyncCpu(), backlog.changes()),
          drain.debeziumAlone().rate(),
          perHundredThousand(drain.debeziumAloneCpu(), backlog.changes()));
    }
    return warm;
  }

  private static String perHundredThousand(Optional<Duration> cpu, long changes) {
    return cpu.map(d -> String.format("%.2f", d.toNanos() / 1e9 / changes * 100_000)).orElse("?");
  }

  /**
   * Lag at each fixed rate of the plan, then at {@link BenchPlan#lagDrainShare()} of {@code
   * drainRate}, cachesync's catch-up rate of the workload on this machine in this run.
   */
  private List<LagResult> lag(
      String id,
      LagOperation operation,
      double drainRate,
      DaemonRun daemon,
      Optional<ReferenceProcess> alone,
      List<String> notes)
      throws Exception {
    LagProbe probe =
        new LagProbe(lettuce, () -> servers.postgres.connect(database), Clock.systemUTC());
    List<Integer> rates = new ArrayList<>(plan.lagRates());
    int relative = (int) Math.max(1, Math.round(plan.lagDrainShare() * drainRate));
    rates.add(relative);
    List<LagResult> results = new ArrayList<>();
    for (int rate : rates) {
      long wanted = Math.round(rate * plan.lagPerRate().toSeconds() / operation.changesPerRun());
      if (operation.capacity() < wanted) {
        notes.add(
            String.format(
                "%s: at %,d/s, only %,d of %,d changes had rows made for them: offered for %.1f s",
                id,
                rate,
                operation.capacity() * operation.changesPerRun(),
                wanted * operation.changesPerRun(),
                (double) operation.capacity() * operation.changesPerRun() / rate));
      }
      LagResult result = probe.measure(operation, rate, plan.lagPerRate());
      if (alone.isPresent()) {
        result =
            result.withDebeziumAlone(debeziumAloneLag(probe, operation, rate, daemon, alone.get()));
      }
      results.add(result);
      progress.say(
          "%s: lag at %,d/s%s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%,.0f/s achieved)",
          id,
          rate,
          rate == relative
              ? String.format(" (%.0f%% of %,.0f/s)", plan.lagDrainShare() * 100, drainRate)
              : "",
          result.percentileMillis(50),
          result.percentileMillis(99),
          result.maxMillis(),
          result.achievedPerSecond());
      if (result.missing() > 0) {
        notes.add(
            String.format(
                "%s: at %,d/s, %,d changes never showed in Redis within 30 s",
                id, rate, result.missing()));
      }
    }
    return results;
  }

  /**
   * The same load offered to Debezium alone, with the daemon held still ({@code SIGSTOP}) so that
   * each runs alone on the machine with the writers, as cachesync's own measurement did with
   * Debezium alone held still; then the daemon is resumed and catches up before the next rate.
   */
  private LagResult.ReferenceLag debeziumAloneLag(
      LagProbe probe, LagOperation operation, int rate, DaemonRun daemon, ReferenceProcess alone)
      throws Exception {
    daemon.pause();
    alone.resume();
    // First the changes it was held still over (cachesync's own measurement), so that the segment
    // measured holds the offered load only.
    awaitSegment(alone, marker.bump());
    double achieved = probe.offerOnly(operation, rate, plan.lagPerRate());
    long closing = marker.bump();
    ReferenceProcess.Segment segment = awaitSegment(alone, closing);
    alone.pause();
    daemon.resume();
    awaitMarker(closing, daemon);
    ReferenceProcess.ReceiptLag lag = segment.lag();
    LagResult.ReferenceLag result =
        new LagResult.ReferenceLag(
            lag.p50Micros() / 1000.0, lag.p99Micros() / 1000.0, lag.maxMicros() / 1000.0, achieved);
    progress.say(
        "  Debezium alone at %,d/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%,.0f/s achieved)",
        rate, result.p50Millis(), result.p99Millis(), result.maxMillis(), achieved);
    return result;
  }

  private ReferenceProcess.Segment awaitSegment(ReferenceProcess consumer, long marker)
      throws Exception {
    ReferenceProcess.Segment segment = consumer.awaitSegment(plan.timeout());
    if (segment.marker() != marker) {
      throw new IllegalStateException(
          "Debezium alone ended a lag segment at marker " + segment.marker() + ", not " + marker);
    }
    return segment;
  }

  private void say(String consumer, List<Backlog> backlogs, List<Drain> drains) {
    StringBuilder rates = new StringBuilder();
    for (int i = 0; i < backlogs.size(); i++) {
      rates.append(i == 0 ? "" : ", ");
      rates.append(
          String.format("%s %,.0f", backlogs.get(i).workload().id(), drains.get(i).rate()));
    }
    progress.say("%s, changes/s: %s", consumer, rates);
  }

  /** Waits until the daemon streams from its slot, and returns {@link System#nanoTime()} then. */
  private long awaitStreaming(DaemonRun daemon) {
    try {
      return watch.awaitActive(SLOT, plan.timeout(), () -> !daemon.alive());
    } catch (ConditionTimeoutException | TerminalFailureException e) {
      throw new IllegalStateException(e.getMessage() + "; the daemon's log:\n" + daemon.tail(), e);
    }
  }

  /** The configuration of W1 to W5, for the correctness check. */
  Path config() {
    return config;
  }

  private void createReferenceSlots() throws SQLException {
    dropReferenceSlots();
    try (PreparedStatement create =
        connection.prepareStatement("SELECT pg_create_logical_replication_slot(?, 'pgoutput')")) {
      for (String slot : REFERENCE_SLOTS) {
        create.setString(1, slot);
        create.execute();
      }
    }
  }

  /** Drops the reference slots once their consumers let go of them, so they keep no WAL. */
  private void dropReferenceSlots() throws SQLException {
    for (String slot : REFERENCE_SLOTS) {
      watch.drop(slot, Duration.ofSeconds(30));
    }
  }

  private long awaitMarker(long n, DaemonRun daemon) {
    return marker.awaitCached(n, daemon, plan.timeout());
  }

  private void flushNaiveDatabase() {
    RedisURI uri = RedisURI.create(servers.redis.uri());
    uri.setDatabase(1);
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> naive = client.connect()) {
      naive.sync().flushdb();
    } finally {
      client.shutdown();
    }
  }

  @Override
  public void close() throws SQLException {
    try {
      redis.close();
      lettuce.shutdown();
      walSenders.close();
    } finally {
      watch.close();
      connection.close();
    }
  }
}
