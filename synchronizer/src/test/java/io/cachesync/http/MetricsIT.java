package io.cachesync.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.MetricsEndpoint;
import io.cachesync.testing.SyncHarness;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon's HTTP endpoint as an operator scrapes it: {@code cachesync run} in its own process,
 * its counters against the changes made, its health while Redis stops answering, the progress of a
 * load.
 */
class MetricsIT {
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();
  private static final Duration START = Duration.ofSeconds(90);
  private static final String TABLE = "public.items";
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{code}\"\n";

  /** The names the README documents; each must have a HELP line. */
  private static final List<String> DOCUMENTED =
      List.of(
          "cachesync_changes_applied_total",
          "cachesync_changes_skipped_total",
          "cachesync_commit_to_redis_seconds",
          "cachesync_batch_seconds",
          "cachesync_lag_seconds",
          "cachesync_source_position",
          "cachesync_applied_position",
          "cachesync_confirmed_position",
          "cachesync_wal_position",
          "cachesync_slot_retained_wal_bytes",
          "cachesync_slot_active",
          "cachesync_redis_errors_total",
          "cachesync_retries_total",
          "cachesync_cache_reloads_total",
          "cachesync_cache_repairs_total",
          "cachesync_load_rows_total",
          "cachesync_load_rows_estimated",
          "cachesync_loads_pending",
          "cachesync_state",
          "cachesync_last_batch_timestamp_seconds",
          "jvm_memory_used_bytes",
          "process_cpu_usage");

  private SyncHarness harness;
  private DaemonProcess daemon;

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    if (harness != null) {
      harness.close();
    }
  }

  private MetricsEndpoint start(String... jvmOptions) {
    daemon = new DaemonProcess(harness.config(MAPPING), jvmOptions).start();
    return new MetricsEndpoint(daemon.httpPort(START));
  }

  private static double value(MetricsEndpoint endpoint, String name, String... labels) {
    return endpoint.value(name, labels).orElse(Double.NaN);
  }

  private static double applied(MetricsEndpoint endpoint, String op) {
    return value(endpoint, "cachesync_changes_applied_total", "table", TABLE, "op", op);
  }

  @Test
  void metrics_changesStreamed_countersMoveByExactlyTheChangesMade() {
    harness = new SyncHarness("metrics");
    harness.sql(
        "CREATE TABLE items (code text PRIMARY KEY, qty int)",
        "INSERT INTO items SELECT 'i' || g, g FROM generate_series(1, 5) g",
        "ANALYZE items");
    MetricsEndpoint endpoint = start();
    await("the initial load counted")
        .atMost(START)
        .until(
            () -> applied(endpoint, "load") == 5 && endpoint.get("/health/ready").status() == 200);
    assertThat(value(endpoint, "cachesync_load_rows_total", "table", TABLE)).isEqualTo(5);
    assertThat(value(endpoint, "cachesync_load_rows_estimated", "table", TABLE)).isEqualTo(5);
    assertThat(value(endpoint, "cachesync_state", "state", "streaming")).isEqualTo(1);
    assertThat(value(endpoint, "cachesync_state", "state", "loading")).isZero();

    // A key holding a newer version than any change (stale), and one of another type (failed).
    harness.redis.redis().hset("item:s1", "__v", "f".repeat(32));
    harness.redis.redis().rpush("item:w1", "not a hash");
    harness.sql(
        "INSERT INTO items VALUES ('s1', 1000), ('w1', 1000)",
        "INSERT INTO items SELECT 'i' || g, g FROM generate_series(6, 12) g",
        "UPDATE items SET qty = qty + 100 WHERE qty <= 4",
        "DELETE FROM items WHERE code IN ('i11', 'i12')",
        // An empty key part cannot be rendered: refused, and its key evicted.
        "INSERT INTO items VALUES ('', 0)");

    Map<String, Double> expected =
        Map.of(
            "load", 5.0,
            "insert", 7.0,
            "update", 4.0,
            "delete", 2.0,
            "truncate", 0.0,
            "stale", 1.0,
            "failed", 1.0,
            "refused", 1.0,
            "replayed", 0.0);
    await("every change counted")
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> assertThat(counts(endpoint)).containsExactlyInAnyOrderEntriesOf(expected));
    // Counted once each, and no more: the counters stay put once the stream is idle.
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(10))
        .until(() -> counts(endpoint).equals(new TreeMap<>(expected)));
    String scrape = endpoint.metrics();
    assertThat(MetricsEndpoint.sample(scrape, "cachesync_commit_to_redis_seconds_count"))
        .contains(13.0);
    assertThat(
            MetricsEndpoint.sample(
                scrape, "cachesync_changes_skipped_total", "table", TABLE, "reason", "stale"))
        .contains(1.0);
    assertThat(
            MetricsEndpoint.sample(
                scrape, "cachesync_changes_skipped_total", "table", TABLE, "reason", "failed"))
        .contains(1.0);
    assertThat(
            MetricsEndpoint.sample(
                scrape, "cachesync_changes_skipped_total", "table", TABLE, "reason", "replayed"))
        .contains(0.0);
    assertThat(MetricsEndpoint.sample(scrape, "cachesync_applied_position").orElseThrow())
        .isPositive();
    // Caught up: the next heartbeat (every 10 s) sets the lag to 0 on the idle database.
    await("no lag once caught up")
        .atMost(Duration.ofSeconds(30))
        .until(() -> value(endpoint, "cachesync_lag_seconds") == 0);
    for (String name : DOCUMENTED) {
      assertThat(scrape).as("HELP of %s", name).contains("# HELP " + name + " ");
    }
    assertThat(scrape).contains("synchronizer=\"" + SyncHarness.NAME + "\"");
    assertThat(endpoint.get("/metrics").contentType())
        .contains("text/plain; version=0.0.4; charset=utf-8");
    MetricsEndpoint.Answer live = endpoint.get("/health/live");
    assertThat(live.status()).isEqualTo(200);
    assertThat(live.body()).contains("\"status\":\"UP\"").contains("\"state\":\"streaming\"");
    assertThat(endpoint.get("/nothing").status()).isEqualTo(404);
  }

  private static Map<String, Double> counts(MetricsEndpoint endpoint) {
    String scrape = endpoint.metrics();
    Map<String, Double> counts = new TreeMap<>();
    for (String op : List.of("load", "insert", "update", "delete", "truncate")) {
      counts.put(
          op,
          MetricsEndpoint.sample(
                  scrape, "cachesync_changes_applied_total", "table", TABLE, "op", op)
              .orElse(Double.NaN));
    }
    for (String reason : List.of("stale", "failed", "refused", "replayed")) {
      counts.put(
          reason,
          MetricsEndpoint.sample(
                  scrape, "cachesync_changes_skipped_total", "table", TABLE, "reason", reason)
              .orElse(Double.NaN));
    }
    return counts;
  }

  private static double skipped(MetricsEndpoint endpoint, String reason) {
    return value(endpoint, "cachesync_changes_skipped_total", "table", TABLE, "reason", reason);
  }

  @Test
  void health_redisStopsAnswering_readyTurns503WithTheReasonAndRetainedWalGrowsThenBothRecover() {
    harness = new SyncHarness("metricsoutage");
    harness.sql("CREATE TABLE items (code text PRIMARY KEY, qty int, payload text)");
    MetricsEndpoint endpoint = start();
    await("streaming and ready")
        .atMost(START)
        .until(
            () ->
                endpoint.get("/health/ready").status() == 200
                    && !Double.isNaN(value(endpoint, "cachesync_slot_retained_wal_bytes")));
    double before = value(endpoint, "cachesync_slot_retained_wal_bytes");

    harness.redisServer.pause();
    try {
      harness.sql(
          "INSERT INTO items SELECT 'i' || g, g, md5(g::text) FROM generate_series(1, 30000) g");
      // The first batch of the insert must reach the paused Redis and time out (10 s): on a CI
      // machine loaded with the Redis Cluster tests beside this one, 60 s was once not enough.
      await("ready turns 503 naming Redis")
          .atMost(Duration.ofSeconds(120))
          .until(
              () -> {
                MetricsEndpoint.Answer ready = endpoint.get("/health/ready");
                return ready.status() == 503
                    && ready.body().contains("\"reason\":\"redis unavailable\"");
              });
      assertThat(value(endpoint, "cachesync_state", "state", "waiting_for_redis")).isEqualTo(1);
      assertThat(endpoint.get("/health/live").status())
          .as("waiting on Redis is not wedged")
          .isEqualTo(200);
      await("the slot keeps the WAL written meanwhile")
          .atMost(Duration.ofSeconds(30))
          .until(() -> value(endpoint, "cachesync_slot_retained_wal_bytes") > before + 2_000_000);
    } finally {
      harness.redisServer.resume();
    }
    double peak = value(endpoint, "cachesync_slot_retained_wal_bytes");

    await("ready again once Redis answers")
        .atMost(Duration.ofSeconds(90))
        .until(
            () ->
                endpoint.get("/health/ready").status() == 200
                    && harness.redis.redis().exists("item:i30000") == 1);
    assertThat(value(endpoint, "cachesync_state", "state", "streaming")).isEqualTo(1);
    assertThat(value(endpoint, "cachesync_retries_total")).isPositive();
    double walAtResume = value(endpoint, "cachesync_wal_position");
    await("the slot confirms what was written during the outage")
        .atMost(Duration.ofSeconds(60))
        .until(() -> value(endpoint, "cachesync_confirmed_position") >= walAtResume);
    harness.sql("CHECKPOINT");
    await("the slot releases the WAL once the changes are in Redis")
        .atMost(Duration.ofSeconds(90))
        .until(() -> value(endpoint, "cachesync_slot_retained_wal_bytes") < peak);
  }

  @Test
  void load_firstStartOfABigTable_reportsProgressAndIsNotReadyUntilDone() {
    harness = new SyncHarness("metricsload");
    int rows = 300_000;
    harness.sql(
        "CREATE TABLE items (code text PRIMARY KEY, qty int)",
        "INSERT INTO items SELECT 'i' || g, g FROM generate_series(1, " + rows + ") g",
        "ANALYZE items");
    MetricsEndpoint endpoint = start("-Dcachesync.loadProgressSeconds=1");
    await("not ready while loading")
        .atMost(START)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              MetricsEndpoint.Answer ready = endpoint.get("/health/ready");
              return ready.status() == 503 && ready.body().contains("\"reason\":\"loading\"");
            });
    assertThat(value(endpoint, "cachesync_loads_pending")).isEqualTo(1);
    double estimated = value(endpoint, "cachesync_load_rows_estimated", "table", TABLE);
    assertThat(estimated).isBetween(rows * 0.9, rows * 1.1);

    await("the load done and counted")
        .atMost(Duration.ofSeconds(180))
        .until(() -> endpoint.get("/health/ready").status() == 200);
    assertThat(value(endpoint, "cachesync_load_rows_total", "table", TABLE)).isEqualTo(rows);
    assertThat(value(endpoint, "cachesync_loads_pending")).isZero();
    assertThat(daemon.log())
        .containsPattern(
            "Load initial: \\d+ of about \\d+ rows \\(\\d+%\\), \\d+ rows/s, about \\d+ s left");
  }

  @Test
  void run_httpPortTaken_exitsTwoNamingTheSetting() throws Exception {
    harness = new SyncHarness("metricsport");
    harness.sql("CREATE TABLE items (code text PRIMARY KEY, qty int)");
    Path config = harness.config(MAPPING);
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      Files.writeString(
          config,
          Files.readString(config)
              .replace("port: 0\n", "port: " + taken.getLocalPort() + "\n")
              .replace("http:\n", "http:\n  host: 127.0.0.1\n"));
      Path log = Files.createTempFile("cachesync-port-", ".log");
      Process process =
          new ProcessBuilder("java", "-jar", JAR.toString(), "run", "--config", config.toString())
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      String output = Files.readString(log, StandardCharsets.UTF_8);
      assertThat(process.exitValue()).as(output).isEqualTo(2);
      assertThat(output)
          .contains("cannot listen on 127.0.0.1:" + taken.getLocalPort())
          .contains("set http.port in synchronizer.yml (0 picks a free port) or 'http: off'");
      Files.deleteIfExists(log);
    }
  }

  @Test
  void run_httpOff_listensNowhere() {
    harness = new SyncHarness("metricsoff");
    harness.sql("CREATE TABLE items (code text PRIMARY KEY, qty int)");
    Path config = harness.config(MAPPING);
    try {
      Files.writeString(
          config, Files.readString(config).replace("http:\n  port: 0\n", "http: off\n"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    daemon = new DaemonProcess(config).start();
    daemon.awaitLog("Streaming from replication slot", START);
    assertThat(daemon.log()).doesNotContain("Metrics on http://");
    assertThat(Optional.of(daemon.alive())).contains(true);
  }
}
