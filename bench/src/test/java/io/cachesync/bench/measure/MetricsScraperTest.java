package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MetricsScraperTest {
  private static final byte[] BODY =
      "# HELP cachesync_lag_seconds lag\ncachesync_lag_seconds 0.0\n"
          .getBytes(StandardCharsets.UTF_8);

  private HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();

  @BeforeEach
  void startServer() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/metrics",
        exchange -> {
          requests.incrementAndGet();
          exchange.sendResponseHeaders(200, BODY.length);
          exchange.getResponseBody().write(BODY);
          exchange.close();
        });
    server.start();
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  @Test
  void start_portLoggedLater_scrapesMetricsOnceItIsKnown() {
    AtomicReference<OptionalInt> port = new AtomicReference<>(OptionalInt.empty());
    try (MetricsScraper scraper = MetricsScraper.start(port::get, Duration.ofMillis(50))) {
      port.set(OptionalInt.of(server.getAddress().getPort()));
      await().atMost(Duration.ofSeconds(5)).until(() -> scraper.scrapes().answered() >= 3);
      scraper.close();

      MetricsScraper.Scrapes scrapes = scraper.scrapes();
      assertThat(scrapes.failed()).isZero();
      assertThat(scrapes.answered()).isEqualTo(requests.get());
      assertThat(scrapes.bytes()).isEqualTo(scrapes.answered() * BODY.length);
    }
  }

  @Test
  void start_nothingListens_countsFailures() throws Exception {
    int port = server.getAddress().getPort();
    server.stop(0);
    try (MetricsScraper scraper =
        MetricsScraper.start(() -> OptionalInt.of(port), Duration.ofMillis(50))) {
      await().atMost(Duration.ofSeconds(5)).until(() -> scraper.scrapes().failed() >= 2);

      assertThat(scraper.scrapes().answered()).isZero();
      assertThat(scraper.scrapes().lastFailure()).contains("ConnectException");
    }
  }
}
