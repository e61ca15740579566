package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.consumer.DaemonRun;
import io.cachesync.bench.consumer.ReferenceProcess;
import io.cachesync.bench.measure.CpuTimeline;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.SlotWatch;
import io.cachesync.bench.report.ProcessCosts;
import io.cachesync.bench.report.WorkloadResult;
import io.cachesync.bench.workload.Workload;
import io.cachesync.testing.ConfigFiles;
import java.io.OutputStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.PGConnection;

/**
 * W6: {@code cachesync resync} of a table of narrow rows, with no daemon running and nothing in
 * Redis for the synchronizer ({@value #NAME}), in a Redis database of its own ({@value #DATABASE})
 * that W1 to W5 left empty: the job starts a daemon that loads the table from its new slot's
 * snapshot. Its rate is the one it prints ("resync done in X s: N rows loaded"), timed by the job
 * from its start, after the JVM and the preflight, to the last row.
 *
 * <p>CPU: the job's JVM over its whole run (JVM start and preflight included), Redis's over the
 * same time, Debezium alone's JVM from its engine's start to its last row.
 *
 * <p>References: PostgreSQL alone ({@code COPY ... TO STDOUT} read and thrown away), and Debezium
 * alone and the naive synchronizer snapshotting the same table on slots of their own, timed from
 * their engine's start to the last row.
 */
final class ResyncSuite {
  static final String NAME = "resync";
  private static final int DATABASE = 3;
  private static final Pattern SUMMARY =
      Pattern.compile("resync done in ([0-9.]+) s: ([0-9,]+) rows loaded");

  private final BenchServers servers;
  private final BenchPlan plan;
  private final CachesyncJar cachesync;
  private final Path benchJar;
  private final Path work;
  private final Progress progress;
  private final CpuTimeline cpu;
  private final OptionalLong redisPid;
  private Path config;
  private String database;

  ResyncSuite(
      BenchServers servers,
      BenchPlan plan,
      CachesyncJar cachesync,
      Path benchJar,
      Path work,
      Progress progress,
      CpuTimeline cpu,
      OptionalLong redisPid) {
    this.cpu = cpu;
    this.redisPid = redisPid;
    this.servers = servers;
    this.plan = plan;
    this.cachesync = cachesync;
    this.benchJar = benchJar;
    this.work = work;
    this.progress = progress;
  }

  WorkloadResult run() throws Exception {
    long rows = plan.resyncRows();
    database = servers.postgres.createDatabase(NAME);
    servers.postgres.execute(
        database,
        Workload.narrowTable("resynced"),
        Workload.narrowRows("resynced", rows),
        "ANALYZE resynced");
    config =
        ConfigFiles.write(
            work.resolve(NAME),
            NAME,
            ConfigFiles.postgres(servers.postgres, database),
            servers.redis.uri() + "/" + DATABASE,
            "tables:\n  - table: public.resynced\n    key: \"resynced:{id}\"\n");

    Drain copy = copy(rows);
    progress.say("W6: PostgreSQL COPY %,.0f rows/s", copy.rate());

    CachesyncJar.Outcome resync = resync("");
    Drain loaded = summaryOf(resync);
    progress.say(
        "W6: cachesync resync %,.0f rows/s (%.1f s with JVM start and preflight)",
        loaded.rate(), resync.took().toMillis() / 1000.0);

    StreamingResync streaming = resyncWhileStreaming();
    progress.say(
        "W6: cachesync resync while a daemon streams: the load %,.0f rows/s (watermark chunks),"
            + " the job with its orphan sweep %,.0f rows/s",
        streaming.load().rate(), streaming.job().rate());

    Snapshot alone = snapshot(ReferenceProcess.DEBEZIUM_ALONE, "bench_snapshot_alone", rows);
    progress.say("W6: Debezium alone %,.0f rows/s", alone.drain().rate());
    Snapshot naive = snapshot(ReferenceProcess.NAIVE, "bench_snapshot_naive", rows);
    progress.say("W6: naive synchronizer %,.0f rows/s", naive.drain().rate());
    return new WorkloadResult(
        "W6",
        "resync",
        rows,
        loaded,
        copy,
        Optional.of(alone.drain()),
        Optional.of(naive.drain()),
        naive.segment().budgetRanOut(),
        resync.memory(),
        alone.memory(),
        new ProcessCosts(
            resync.cpu(),
            Optional.empty(),
            redisPid.isPresent()
                ? cpu.between(redisPid.getAsLong(), resync.startNanos(), resync.endNanos())
                : Optional.empty(),
            alone.cpu(),
            Optional.empty()),
        Optional.empty(),
        List.of(),
        notes(naive, streaming, loaded, alone));
  }

  private List<String> notes(
      Snapshot naive, StreamingResync streaming, Drain loaded, Snapshot alone) {
    List<String> notes = new java.util.ArrayList<>();
    notes.add(
        String.format(
            "W6: a second resync of the same rows, handed to a daemon that streams (watermark"
                + " chunks merged into the stream, the daemon's own count from its log): %,.0f"
                + " rows/s, %.2fx the first (no daemon: the initial load), %.2fx Debezium alone's"
                + " snapshot; the job, with its sweep for orphan keys over the %,d keys Redis then"
                + " holds: %.1f s (%,.0f rows/s)",
            streaming.load().rate(),
            streaming.load().rate() / loaded.rate(),
            streaming.load().rate() / alone.drain().rate(),
            streaming.job().changes(),
            streaming.job().took().toMillis() / 1000.0,
            streaming.job().rate()));
    if (naive.segment().budgetRanOut()) {
      notes.add(
          String.format(
              "W6: naive synchronizer measured on the %,d rows it wrote in the %d s after its"
                  + " first row (its start-up excluded)",
              naive.segment().written(), plan.naiveWriteBudget().toSeconds()));
    }
    return notes;
  }

  /**
   * A resync handed to a daemon: the daemon's load (from its log line {@code Load ... done: ...
   * rows in S s}) and the whole job, whose orphan sweep reads every key.
   */
  private record StreamingResync(Drain load, Drain job) {}

  private static final Pattern LOAD_DONE =
      Pattern.compile("Load \\S+ of \\[[^\\]]*\\] done: \\{[^}]*\\} rows in ([0-9.]+) s");

  /**
   * A second {@code cachesync resync} of the table, handed to a daemon that streams: its chunks go
   * through the stream. The daemon resumes from what the first resync left in Redis.
   */
  private StreamingResync resyncWhileStreaming() throws Exception {
    try (DaemonRun daemon = cachesync.run(config, "w6-daemon.log")) {
      org.awaitility.Awaitility.await("the W6 daemon streaming")
          .atMost(plan.timeout())
          .pollInterval(Duration.ofMillis(50))
          .until(() -> daemon.logged("Streaming from replication slot") || !daemon.alive());
      if (!daemon.alive()) {
        throw new IllegalStateException("the W6 daemon stopped:\n" + daemon.tail());
      }
      Drain job = summaryOf(resync(" (daemon streaming)"));
      String log = daemon.log();
      daemon.stop();
      Matcher done = LOAD_DONE.matcher(log);
      if (!done.find()) {
        throw new IllegalStateException("no load in the daemon's log:\n" + daemon.tail());
      }
      Duration took = Duration.ofMillis(Math.round(Double.parseDouble(done.group(1)) * 1000));
      return new StreamingResync(new Drain(job.changes(), took), job);
    }
  }

  /** Runs {@code cachesync resync} to its end; throws when it failed. */
  private CachesyncJar.Outcome resync(String what) throws Exception {
    CachesyncJar.Outcome resync = cachesync.resync(config, plan.timeout());
    if (resync.exitCode() != 0) {
      throw new IllegalStateException(
          "cachesync resync"
              + what
              + " exited with "
              + resync.exitCode()
              + ":\n"
              + resync.output());
    }
    return resync;
  }

  /** The rows and seconds a resync printed; throws when it printed none. */
  private static Drain summaryOf(CachesyncJar.Outcome resync) {
    return summary(resync.output())
        .orElseThrow(
            () -> new IllegalStateException("no summary in resync's output:\n" + resync.output()));
  }

  /** The configuration of W6, for the correctness check. */
  Path config() {
    return config;
  }

  private Drain copy(long rows) throws Exception {
    try (Connection connection = servers.postgres.connect(database)) {
      return copy(connection, "resynced", rows);
    }
  }

  /**
   * PostgreSQL alone reading {@code table}: {@code COPY table TO STDOUT}, thrown away, timed from
   * the statement to its last row.
   */
  static Drain copy(Connection connection, String table, long rows) throws Exception {
    long started = System.nanoTime();
    long copied =
        connection
            .unwrap(PGConnection.class)
            .getCopyAPI()
            .copyOut("COPY " + table + " TO STDOUT", OutputStream.nullOutputStream());
    if (copied != rows) {
      throw new IllegalStateException("COPY read " + copied + " rows of " + rows);
    }
    return Drain.of(rows, started, System.nanoTime());
  }

  /** A reference consumer's snapshot, with its JVM's CPU time from its engine's start. */
  private record Snapshot(
      Drain drain, Memory memory, ReferenceProcess.Segment segment, Optional<Duration> cpu) {}

  private Snapshot snapshot(String kind, String slot, long rows) throws Exception {
    try (ReferenceProcess consumer =
        ReferenceProcess.snapshot(
            benchJar,
            kind,
            config,
            slot,
            rows,
            ReferenceProcess.NAIVE.equals(kind) ? plan.naiveWriteBudget() : plan.timeout(),
            work.resolve(kind + ".log"))) {
      cpu.watch(consumer.pid());
      consumer.go();
      ReferenceProcess.Segment segment = consumer.awaitSegment(plan.timeout());
      Optional<Duration> used = cpu.between(consumer.pid(), segment.start(), segment.end());
      Memory memory = consumer.finish();
      dropWhenInactive(slot);
      return new Snapshot(segment.drain(rows), memory, segment, used);
    }
  }

  /** Drops the slot of a reference consumer that was stopped, so that it keeps no WAL. */
  private void dropWhenInactive(String slot) throws SQLException {
    try (SlotWatch watch = new SlotWatch(servers.postgres.connect(database))) {
      watch.drop(slot, Duration.ofSeconds(30));
    }
  }

  /** The rows and seconds of resync's summary line. */
  static Optional<Drain> summary(String output) {
    Matcher matcher = SUMMARY.matcher(output);
    if (!matcher.find()) {
      return Optional.empty();
    }
    long rows = Long.parseLong(matcher.group(2).replace(",", ""));
    Duration took = Duration.ofMillis(Math.round(Double.parseDouble(matcher.group(1)) * 1000));
    return Optional.of(new Drain(rows, took));
  }
}
