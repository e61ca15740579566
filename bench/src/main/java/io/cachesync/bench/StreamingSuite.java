package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.consumer.DaemonRun;
import io.cachesync.bench.consumer.Recvlogical;
import io.cachesync.bench.consumer.ReferenceProcess;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.LagProbe;
import io.cachesync.bench.measure.LagResult;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.SlotWatch;
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
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;

/**
 * W1 to W5 on one database and one synchronizer ({@value #NAME}). The daemon starts once to load
 * the initial rows and create its slot, and stops; the reference slots are created; the five
 * backlogs are written one after the other, each closed by an update of a marker row. Then
 * pg_recvlogical, Debezium alone, the naive synchronizer and the cachesync daemon drain the whole
 * stream one after the other, each alone on the machine, and each workload is timed as a segment of
 * that stream (see {@link #run}). The daemon then stays up, caught up, for the lag measurement, and
 * is stopped.
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

  private final MarkerRow marker;

  private StreamingSuite(
      BenchServers servers,
      BenchPlan plan,
      CachesyncJar cachesync,
      Path benchJar,
      Path work,
      Progress progress,
      String database,
      Path config)
      throws SQLException {
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
      List<Workload> workloads)
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
        new StreamingSuite(servers, plan, cachesync, benchJar, work, progress, database, config);
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

  /** What one consumer did on each backlog, in order. */
  private record Drains(
      List<Drain> drains, List<Memory> memory, List<Boolean> partial, List<String> notes) {}

  /**
   * Writes every workload's backlog, one after the other, each closed by the marker; then lets each
   * consumer drain them all, and times each backlog as a segment of the stream: from the end of the
   * previous one (for the first: the moment the consumer's slot became active) to its marker. One
   * start per consumer, so the first workload also pays for warming up the JVM.
   */
  List<WorkloadResult> run(List<Workload> workloads) throws Exception {
    createReferenceSlots();
    long lastMarker = marker.value() + workloads.size();
    List<Backlog> backlogs = new ArrayList<>();
    Drains recv;
    Drains alone;
    Drains naive;
    // The reference JVMs boot while the backlogs are written, then wait for their turn.
    try (ReferenceProcess aloneProcess =
            ReferenceProcess.stream(
                benchJar,
                ReferenceProcess.DEBEZIUM_ALONE,
                config,
                DEBEZIUM_SLOT,
                lastMarker,
                plan.timeout(),
                logs.resolve("debezium-alone.log"));
        ReferenceProcess naiveProcess =
            ReferenceProcess.stream(
                benchJar,
                ReferenceProcess.NAIVE,
                config,
                NAIVE_SLOT,
                lastMarker,
                plan.naiveWriteBudget(),
                logs.resolve("naive.log"))) {
      for (Workload workload : workloads) {
        backlogs.add(writeBacklog(workload));
      }
      recv = recvlogical(backlogs);
      alone = reference(aloneProcess, DEBEZIUM_SLOT, "Debezium alone", backlogs);
      naive = reference(naiveProcess, NAIVE_SLOT, "naive synchronizer", backlogs);
    }
    flushNaiveDatabase();
    dropReferenceSlots();
    return drainWithDaemon(backlogs, recv, alone, naive);
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
    return new Drains(drains, List.of(), List.of(), List.of());
  }

  /**
   * Lets a reference consumer drain the backlogs, then stops it, so that the next consumer drains
   * alone on the machine.
   */
  private Drains reference(
      ReferenceProcess consumer, String slot, String name, List<Backlog> backlogs)
      throws Exception {
    long go = System.nanoTime();
    consumer.go();
    long streaming = watch.awaitActive(slot, plan.timeout(), () -> !consumer.alive());
    List<Drain> drains = new ArrayList<>();
    List<Memory> memory = new ArrayList<>();
    List<Boolean> partial = new ArrayList<>();
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
    }
    say(name, backlogs, drains);
    consumer.close();
    return new Drains(drains, memory, partial, notes);
  }

  private List<WorkloadResult> drainWithDaemon(
      List<Backlog> backlogs, Drains recv, Drains alone, Drains naive) throws Exception {
    long launched = System.nanoTime();
    try (DaemonRun daemon = cachesync.run(config, "daemon")) {
      long start = awaitStreaming(daemon);
      List<String> notes = new ArrayList<>();
      notes.add(
          String.format(
              "cachesync: %.1f s from the daemon's JVM start to streaming",
              (start - launched) / 1e9));
      List<Drain> drains = new ArrayList<>();
      List<Memory> memory = new ArrayList<>();
      for (Backlog backlog : backlogs) {
        long end = awaitMarker(backlog.marker(), daemon);
        drains.add(Drain.of(backlog.changes(), start, end));
        memory.add(daemon.memoryBetween(start, end));
        start = end;
      }
      say("cachesync", backlogs, drains);
      Map<String, List<LagResult>> lags = new HashMap<>();
      for (Backlog backlog : backlogs) {
        Workload workload = backlog.workload();
        if (plan.lagWorkloads().contains(workload.id()) && workload.lag().isPresent()) {
          lags.put(workload.id(), lag(workload.id(), workload.lag().get(), notes));
        }
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
                alone.drains().get(i),
                naive.drains().get(i),
                naive.partial().get(i),
                memory.get(i),
                alone.memory().get(i),
                lags.getOrDefault(workload.id(), List.of()),
                i == 0 ? notes : List.of()));
      }
      return results;
    }
  }

  private List<LagResult> lag(String id, LagOperation operation, List<String> notes)
      throws Exception {
    LagProbe probe =
        new LagProbe(lettuce, () -> servers.postgres.connect(database), Clock.systemUTC());
    List<LagResult> results = new ArrayList<>();
    for (int rate : plan.lagRates()) {
      LagResult result = probe.measure(operation, rate, plan.lagPerRate());
      results.add(result);
      progress.say(
          "%s: lag at %,d/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%,.0f/s achieved)",
          id,
          rate,
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
    } finally {
      watch.close();
      connection.close();
    }
  }
}
