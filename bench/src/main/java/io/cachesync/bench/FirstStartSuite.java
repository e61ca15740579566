package io.cachesync.bench;

import static org.awaitility.Awaitility.await;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.consumer.DaemonRun;
import io.cachesync.bench.measure.CpuTimeline;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.SlotWatch;
import io.cachesync.bench.report.ProcessCosts;
import io.cachesync.bench.report.VerifyResult;
import io.cachesync.bench.report.WorkloadResult;
import io.cachesync.bench.workload.Workload;
import io.cachesync.testing.ConfigFiles;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;

/**
 * W7 and W8 on one table of narrow rows, in a database, a synchronizer ({@value #NAME}) and a Redis
 * database ({@value #DATABASE}) of their own.
 *
 * <p>W7: the daemon's first start on the rows already in the table (no slot, nothing in Redis): it
 * creates its slot and loads the table, then streams. The load's end is seen through the marker
 * row, updated every {@value #BUMP_MILLIS} ms from the moment the slot exists: the first value
 * Redis holds comes from the load (the marker table is loaded as any other), and any later value
 * can only come from the stream, which starts once the load is done. Timed from the slot's creation
 * to that later value (and, in a note, from the JVM's start); the daemon's CPU time, Redis's and
 * the daemon's memory over the same time. References: {@code COPY ... TO STDOUT} of the table, and
 * redis-benchmark's rows.
 *
 * <p>W8: {@code cachesync verify} of the loaded table once the daemon stopped (consistent: exit 0
 * expected), then again after {@code FLUSHDB} of the synchronizer's Redis database (every key
 * missing: exit 1 expected; FLUSHDB rather than FLUSHALL, which would empty the other workloads'
 * caches before the final correctness check). Each run is stopped after the plan's limit.
 */
final class FirstStartSuite {
  static final String NAME = "firststart";
  private static final String SLOT = "cachesync_" + NAME;
  private static final String TABLE = "loaded";
  private static final int DATABASE = 5;
  private static final long BUMP_MILLIS = 20;
  private static final String MARKER_KEY = "marker:1";

  /** What the suite measured: W7's load (when asked for) and W8's verify runs (when asked for). */
  record Result(Optional<WorkloadResult> load, Optional<VerifyResult> verify) {}

  private final BenchServers servers;
  private final BenchPlan plan;
  private final CachesyncJar cachesync;
  private final Path work;
  private final Progress progress;
  private final CpuTimeline cpu;
  private final OptionalLong redisPid;
  private Path config;

  FirstStartSuite(
      BenchServers servers,
      BenchPlan plan,
      CachesyncJar cachesync,
      Path work,
      Progress progress,
      CpuTimeline cpu,
      OptionalLong redisPid) {
    this.servers = servers;
    this.plan = plan;
    this.cachesync = cachesync;
    this.work = work;
    this.progress = progress;
    this.cpu = cpu;
    this.redisPid = redisPid;
  }

  /** The configuration of W7, for the correctness check when W8 does not check it. */
  Path config() {
    return config;
  }

  /**
   * Loads the table with a first start (W7), and when {@code verify}, verifies it twice (W8).
   *
   * @param report whether W7's figures are wanted (W8 alone still needs the load)
   */
  Result run(boolean report, boolean verify) throws Exception {
    long rows = plan.firstStartRows();
    String database = servers.postgres.createDatabase(NAME);
    List<String> statements = new ArrayList<>(MarkerRow.SCHEMA);
    statements.add(Workload.narrowTable(TABLE));
    statements.add(Workload.narrowRows(TABLE, rows));
    statements.add("ANALYZE");
    long filling = System.nanoTime();
    servers.postgres.execute(database, statements.toArray(String[]::new));
    progress.say("W7: %,d rows written in %.1f s", rows, (System.nanoTime() - filling) / 1e9);
    String redisUri = servers.redis.uri() + "/" + DATABASE;
    config =
        ConfigFiles.write(
            work.resolve(NAME),
            NAME,
            ConfigFiles.postgres(servers.postgres, database),
            redisUri,
            MarkerRow.MAPPING
                + "  - table: public."
                + TABLE
                + "\n    key: \""
                + TABLE
                + ":{id}\"\n");
    Drain copy;
    try (Connection connection = servers.postgres.connect(database)) {
      copy = ResyncSuite.copy(connection, TABLE, rows);
    }
    progress.say("W7: PostgreSQL COPY %,.0f rows/s", copy.rate());
    RedisClient client = RedisClient.create(redisUri);
    try (StatefulRedisConnection<String, String> redis = client.connect()) {
      WorkloadResult load = load(database, rows, copy, redis.sync());
      Optional<VerifyResult> verified = Optional.empty();
      if (verify) {
        verified = Optional.of(verify(rows, redis.sync()));
      }
      return new Result(report ? Optional.of(load) : Optional.empty(), verified);
    } finally {
      client.shutdown();
    }
  }

  private WorkloadResult load(
      String database, long rows, Drain copy, RedisCommands<String, String> redis)
      throws Exception {
    List<String> notes = new ArrayList<>();
    ExecutorService bumps = Executors.newSingleThreadExecutor();
    AtomicBoolean bumping = new AtomicBoolean(true);
    try (SlotWatch watch = new SlotWatch(servers.postgres.connect(database));
        Connection bumpConnection = servers.postgres.connect(database)) {
      long launched = System.nanoTime();
      WorkloadResult result;
      try (DaemonRun daemon = cachesync.run(config, "daemon-first-start-" + NAME)) {
        cpu.watch(daemon.pid());
        long created = watch.awaitExists(SLOT, plan.timeout(), () -> !daemon.alive());
        MarkerRow marker = new MarkerRow(bumpConnection, () -> redis);
        Future<?> bumper =
            bumps.submit(
                () -> {
                  while (bumping.get()) {
                    marker.bump();
                    TimeUnit.MILLISECONDS.sleep(BUMP_MILLIS);
                  }
                  return null;
                });
        long end = awaitStreamedMarker(redis, daemon, bumper);
        bumping.set(false);
        bumper.get(10, TimeUnit.SECONDS);
        // The last update, committed after the one that ended the load, in Redis before the stop:
        // verify (W8) finds the marker row stale otherwise.
        marker.awaitCached(marker.value(), daemon, plan.timeout());
        Long keys = redis.dbsize();
        if (keys < rows) {
          notes.add(
              String.format(
                  "W7: only %,d keys in Redis when the marker row's update arrived, of %,d rows",
                  keys, rows));
        }
        Drain loaded = Drain.of(rows, created, end);
        Memory memory = daemon.memoryBetween(created, end);
        ProcessCosts costs =
            new ProcessCosts(
                cpu.between(daemon.pid(), created, end),
                Optional.empty(),
                redisPid.isPresent()
                    ? cpu.between(redisPid.getAsLong(), created, end)
                    : Optional.empty(),
                Optional.empty(),
                Optional.empty());
        notes.add(
            String.format(
                "W7: %.1f s from the daemon's JVM start to its slot's creation, %.1f s to the last"
                    + " row (%,.0f rows/s with JVM start)",
                (created - launched) / 1e9,
                (end - launched) / 1e9,
                rows / ((end - launched) / 1e9)));
        progress.say(
            "W7: cachesync first start loaded %,.0f rows/s (from its slot's creation)",
            loaded.rate());
        daemon.stop();
        result =
            new WorkloadResult(
                "W7",
                "first start",
                rows,
                loaded,
                copy,
                Optional.empty(),
                Optional.empty(),
                false,
                memory,
                Memory.UNKNOWN,
                costs,
                Optional.empty(),
                List.of(),
                notes);
      }
      watch.drop(SLOT, Duration.ofSeconds(30));
      return result;
    } finally {
      bumping.set(false);
      bumps.shutdownNow();
    }
  }

  /**
   * Waits until Redis holds a value of the marker row, then until it holds another one, which only
   * the stream can write; returns {@link System#nanoTime()} then.
   */
  private long awaitStreamedMarker(
      RedisCommands<String, String> redis, DaemonRun daemon, Future<?> bumper) {
    try {
      String loaded =
          await("the marker row loaded into Redis")
              .atMost(plan.timeout())
              .pollDelay(Duration.ZERO)
              .pollInterval(Duration.ofMillis(5))
              .failFast("the daemon exited", () -> !daemon.alive())
              .failFast("the marker's updates failed", bumper::isDone)
              .until(() -> redis.hget(MARKER_KEY, "n"), value -> value != null);
      await("the marker row's update streamed to Redis")
          .atMost(plan.timeout())
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(5))
          .failFast("the daemon exited", () -> !daemon.alive())
          .failFast("the marker's updates failed", bumper::isDone)
          .until(() -> redis.hget(MARKER_KEY, "n"), value -> !loaded.equals(value));
    } catch (ConditionTimeoutException | TerminalFailureException e) {
      throw new IllegalStateException(e.getMessage() + "; the daemon's log:\n" + daemon.tail(), e);
    }
    return System.nanoTime();
  }

  /** W8: verify of the consistent table, then of the same table after FLUSHDB. */
  private VerifyResult verify(long rows, RedisCommands<String, String> redis) throws Exception {
    CachesyncJar.Outcome consistent = cachesync.verifyWithin(config, plan.verifyLimit());
    say("consistent", rows, consistent);
    redis.flushdb();
    CachesyncJar.Outcome flushed = cachesync.verifyWithin(config, plan.verifyLimit());
    say("after FLUSHDB", rows, flushed);
    return new VerifyResult(rows, plan.verifyLimit(), consistent, flushed);
  }

  private void say(String what, long rows, CachesyncJar.Outcome outcome) {
    if (outcome.finished()) {
      progress.say(
          "W8: verify, %s: exit %d in %.1f s, %,.0f rows/s",
          what, outcome.exitCode(), outcome.took().toMillis() / 1000.0, rows / seconds(outcome));
    } else {
      progress.say(
          "W8: verify, %s: not done within %d s, stopped", what, plan.verifyLimit().toSeconds());
    }
  }

  private static double seconds(CachesyncJar.Outcome outcome) {
    return outcome.took().toNanos() / 1e9;
  }
}
