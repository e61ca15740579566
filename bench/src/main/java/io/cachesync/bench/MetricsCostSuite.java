package io.cachesync.bench;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.consumer.DaemonRun;
import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.MetricsScraper;
import io.cachesync.bench.measure.ProcessCpu;
import io.cachesync.bench.measure.SlotWatch;
import io.cachesync.bench.report.MetricsCost;
import io.cachesync.bench.workload.Workload;
import io.cachesync.testing.ConfigFiles;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What metrics cost: W1's catch-up (single-row inserts of narrow rows) drained by the daemon with
 * metrics on (the endpoint enabled and scraped every second by the benchmark, as Prometheus would)
 * and with metrics off ({@code http: off}, which also stops recording per change), in alternating
 * rounds (on, off, off, on, on, off, ...) so that what else runs on the machine, and any drift over
 * the run, weighs on both alike.
 *
 * <p>One database and one synchronizer ({@value #NAME}) of its own, in Redis database {@value
 * #DATABASE}. Each round writes a backlog while no daemon runs, closes it with the marker row,
 * starts a daemon from the jar, times it from the moment its slot becomes active to the moment
 * Redis holds the marker, as W1 is timed (JIT warm-up included, JVM start not), reads the daemon's
 * CPU time at both moments, and stops it.
 */
final class MetricsCostSuite {
  static final String NAME = "metrics";
  private static final String SLOT = "cachesync_" + NAME;
  private static final int DATABASE = 4;
  private static final Duration SCRAPE_INTERVAL = Duration.ofSeconds(1);

  /**
   * What Debezium logs when its replication stream could not start (the slot still held by the
   * process's own earlier replication connection) and it waits {@code slot.retry.delay.ms} to try
   * again.
   */
  static final String STREAM_RETRIED = "Failed to start replication stream";

  private final BenchServers servers;
  private final BenchPlan plan;
  private final CachesyncJar cachesync;
  private final Path work;
  private final Progress progress;
  private Path metricsOn;
  private Path metricsOff;

  /** The key of the next row a backlog inserts. */
  private long nextId = 1;

  MetricsCostSuite(
      BenchServers servers, BenchPlan plan, CachesyncJar cachesync, Path work, Progress progress) {
    this.servers = servers;
    this.plan = plan;
    this.cachesync = cachesync;
    this.work = work;
    this.progress = progress;
  }

  MetricsCost run() throws Exception {
    String database = servers.postgres.createDatabase(NAME);
    List<String> statements = new ArrayList<>(MarkerRow.SCHEMA);
    statements.add(Workload.narrowTable("narrow"));
    servers.postgres.execute(database, statements.toArray(String[]::new));
    String mapping = MarkerRow.MAPPING + "  - table: public.narrow\n    key: \"narrow:{id}\"\n";
    String postgres = ConfigFiles.postgres(servers.postgres, database);
    String redisUri = servers.redis.uri() + "/" + DATABASE;
    metricsOn =
        ConfigFiles.write(
            work.resolve(NAME + "-on"),
            NAME,
            postgres,
            redisUri,
            mapping,
            ConfigFiles.Endpoint.FREE_PORT);
    metricsOff =
        ConfigFiles.write(
            work.resolve(NAME + "-off"),
            NAME,
            postgres,
            redisUri,
            mapping,
            ConfigFiles.Endpoint.OFF);
    ProcessCpu cpu = ProcessCpu.ofThisMachine();
    RedisClient client = RedisClient.create(redisUri);
    try (Connection connection = servers.postgres.connect(database);
        SlotWatch watch = new SlotWatch(servers.postgres.connect(database));
        StatefulRedisConnection<String, String> redis = client.connect()) {
      MarkerRow marker = new MarkerRow(connection, redis::sync);
      firstStart(marker, watch);
      List<MetricsCost.Round> rounds = new ArrayList<>();
      for (int pair = 0; pair < plan.metricsPairs(); pair++) {
        // on, off, then off, on: a drift over the run (the table grows, the WAL ages) weighs on
        // both settings alike, and neither always runs first.
        for (boolean on : pair % 2 == 0 ? List.of(true, false) : List.of(false, true)) {
          rounds.add(round(rounds.size() + 1, on, connection, marker, watch, cpu));
        }
      }
      return new MetricsCost(rounds);
    } finally {
      client.shutdown();
    }
  }

  /** The configuration with the endpoint, for the correctness check (both share their cache). */
  Path config() {
    return metricsOn;
  }

  /**
   * Lets the daemon create its slot and publication, and stops it once its offsets are past the
   * marker's first update, as {@link StreamingSuite} does and for the same reason.
   */
  private void firstStart(MarkerRow marker, SlotWatch watch) throws Exception {
    try (DaemonRun daemon = cachesync.run(metricsOff, "metrics-first-start")) {
      marker.awaitCached(0, daemon, plan.timeout());
      String beforeUpdate = marker.currentLsn();
      marker.awaitCached(marker.bump(), daemon, plan.timeout());
      watch.awaitConfirmedPast(SLOT, beforeUpdate, plan.timeout());
      daemon.stop();
    }
    watch.awaitInactive(SLOT, Duration.ofSeconds(30));
  }

  private MetricsCost.Round round(
      int number,
      boolean on,
      Connection connection,
      MarkerRow marker,
      SlotWatch watch,
      ProcessCpu cpu)
      throws Exception {
    long changes = writeBacklog(connection);
    long closing = marker.bump();
    String setting = on ? "on" : "off";
    MetricsCost.Round round;
    try (DaemonRun daemon =
            cachesync.run(on ? metricsOn : metricsOff, "metrics-" + number + "-" + setting);
        MetricsScraper scraper =
            on ? MetricsScraper.start(daemon::httpPort, SCRAPE_INTERVAL) : null) {
      long start = watch.awaitActive(SLOT, plan.timeout(), () -> !daemon.alive());
      Optional<Duration> cpuAtStart = cpu.used(daemon.pid());
      long end = marker.awaitCached(closing, daemon, plan.timeout());
      Optional<Duration> cpuAtEnd = cpu.used(daemon.pid());
      MetricsScraper.Scrapes scrapes =
          scraper == null ? new MetricsScraper.Scrapes(0, 0, 0, "") : scraper.scrapes();
      check(on, daemon, scrapes);
      round =
          new MetricsCost.Round(
              on,
              Drain.of(changes, start, end),
              cpuAtStart.flatMap(from -> cpuAtEnd.map(to -> to.minus(from))),
              scrapes.answered(),
              scrapes.failed(),
              daemon.logged(STREAM_RETRIED));
      daemon.stop();
    }
    watch.awaitInactive(SLOT, Duration.ofSeconds(30));
    progress.say(
        "metrics cost, round %d (metrics %s): %,.0f changes/s, %s CPU s per 100,000 changes, %d"
            + " scrapes%s",
        number,
        setting,
        round.drain().rate(),
        round
            .cpu()
            .map(d -> String.format("%.2f", d.toNanos() / 1e9 / changes * 100_000))
            .orElse("?"),
        round.scrapes(),
        round.streamRetried() ? "; not counted: Debezium retried the slot" : "");
    return round;
  }

  /** Fails the run when a round did not measure what its label says. */
  private static void check(boolean on, DaemonRun daemon, MetricsScraper.Scrapes scrapes) {
    if (on && scrapes.answered() == 0) {
      throw new IllegalStateException(
          "metrics on, but no scrape of the daemon's endpoint answered ("
              + scrapes.failed()
              + " failed, the last with "
              + scrapes.lastFailure()
              + "); the daemon's log:\n"
              + daemon.tail());
    }
    if (!on && daemon.httpPort().isPresent()) {
      throw new IllegalStateException("'http: off', but the daemon opened its endpoint");
    }
  }

  /** Single-row inserts of new keys, as W1's backlog, and returns how many. */
  private long writeBacklog(Connection connection) throws Exception {
    long from = nextId;
    long to = nextId + plan.metricsChanges() - 1;
    try (Statement statement = connection.createStatement()) {
      statement.execute(
          Workload.loop(
              from, to, "", "INSERT INTO narrow VALUES (" + Workload.NARROW_VALUES + ");"));
    }
    nextId = to + 1;
    return plan.metricsChanges();
  }
}
