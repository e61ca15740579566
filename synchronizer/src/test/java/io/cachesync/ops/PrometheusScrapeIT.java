package io.cachesync.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.LocalPrometheus;
import io.cachesync.testing.MetricsEndpoint;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestServers;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A real Prometheus scrapes a running daemon: the series the alert rules and the dashboard read
 * exist under the names they use, and a query through Prometheus's API sees the changes made.
 */
class PrometheusScrapeIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";

  @Test
  void prometheus_scrapesTheDaemon_queriesSeeEveryChangeAndEveryNameTheKitReads() {
    try (SyncHarness harness = new SyncHarness("promscrape")) {
      harness.sql("CREATE TABLE items (id int PRIMARY KEY, name text)");
      try (DaemonProcess daemon = new DaemonProcess(harness.config(MAPPING)).start()) {
        int port = daemon.httpPort(Duration.ofSeconds(90));
        MetricsEndpoint endpoint = new MetricsEndpoint(port);
        await("streaming")
            .atMost(Duration.ofSeconds(90))
            .until(() -> endpoint.get("/health/ready").status() == 200);
        harness.sql("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 25) g");

        // Every name the rules and the dashboard may read is one the daemon exports.
        await("the changes applied")
            .atMost(Duration.ofSeconds(30))
            .until(() -> harness.redis.redis().exists("item:25") == 1);
        Set<String> exported = new TreeSet<>();
        endpoint
            .metrics()
            .lines()
            .filter(line -> !line.startsWith("#") && !line.isBlank())
            .forEach(line -> exported.add(line.split("[{ ]", 2)[0]));
        Set<String> kit = new TreeSet<>(OpsKitIT.EXPORTED);
        kit.remove("up"); // Prometheus's own, for every target it scrapes
        assertThat(exported).containsAll(kit);

        try (LocalPrometheus prometheus =
            TestServers.prometheus(Map.of("cachesync", List.of("127.0.0.1:" + port)))) {
          await("Prometheus sees the daemon streaming and every insert")
              .atMost(Duration.ofSeconds(60))
              .until(
                  () ->
                      value(prometheus, "cachesync_state{job=\"cachesync\",state=\"streaming\"}")
                              == 1
                          && value(
                                  prometheus,
                                  "cachesync_changes_applied_total{job=\"cachesync\","
                                      + "table=\"public.items\",op=\"insert\"}")
                              == 25);
          assertThat(value(prometheus, "up{job=\"cachesync\"}")).isEqualTo(1);
          List<LocalPrometheus.Sample> synchronizers =
              prometheus.query("count by (synchronizer) (cachesync_state)");
          assertThat(synchronizers).hasSize(1);
          assertThat(synchronizers.get(0).labels()).containsEntry("synchronizer", SyncHarness.NAME);
        }
      }
    }
  }

  private static double value(LocalPrometheus prometheus, String promql) {
    List<LocalPrometheus.Sample> samples = prometheus.query(promql);
    return samples.size() == 1 ? samples.get(0).value() : Double.NaN;
  }
}
