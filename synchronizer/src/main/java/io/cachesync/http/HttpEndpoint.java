package io.cachesync.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cachesync.config.HttpSettings;
import io.cachesync.metrics.Health;
import io.cachesync.metrics.SyncMetrics;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's HTTP endpoint: {@code GET /metrics} (Prometheus's text format), {@code GET
 * /health/live} and {@code GET /health/ready} (200 or 503 with a JSON body naming the state and the
 * reason). The JDK's own HTTP server: three read-only routes do not need a web framework's
 * dependencies in a process that sits next to the database.
 */
public final class HttpEndpoint implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpEndpoint.class);
  private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
  private static final String JSON = "application/json";

  /**
   * Threads answering: a few, so that one client that sends half a request (a stuck scraper, a port
   * scanner) cannot hold up a health check.
   */
  private static final int THREADS = 4;

  static {
    // The JDK server's own limits on reading a request and writing an answer (seconds), read when
    // its first server is created; unset, a silent client holds its thread forever.
    if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
      System.setProperty("sun.net.httpserver.maxReqTime", "10");
    }
    if (System.getProperty("sun.net.httpserver.maxRspTime") == null) {
      System.setProperty("sun.net.httpserver.maxRspTime", "30");
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;

  private HttpEndpoint(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /** The endpoint could not listen where the settings say. */
  public static final class BindFailedException extends Exception {
    private static final long serialVersionUID = 1L;

    BindFailedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Listens on the configured host and port and answers from {@code metrics}.
   *
   * @throws BindFailedException when the port is taken or the host is not this machine's
   */
  public static HttpEndpoint start(HttpSettings settings, SyncMetrics metrics)
      throws BindFailedException {
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(settings.host(), settings.port()), 16);
    } catch (BindException e) {
      throw new BindFailedException(
          "cannot listen on "
              + settings.host()
              + ":"
              + settings.port()
              + " for metrics and health ("
              + e.getMessage()
              + "): another process uses the port, or the host is not an address of this"
              + " machine; set http.port in synchronizer.yml (0 picks a free port) or"
              + " 'http: off'",
          e);
    } catch (IOException e) {
      throw new BindFailedException(
          "cannot listen on " + settings.host() + ":" + settings.port() + ": " + e.getMessage(), e);
    }
    ExecutorService executor =
        Executors.newFixedThreadPool(
            THREADS,
            runnable -> {
              Thread thread = new Thread(runnable, "cachesync-http");
              thread.setDaemon(true);
              return thread;
            });
    server.setExecutor(executor);
    server.createContext(
        "/",
        exchange -> {
          switch (exchange.getRequestURI().getPath()) {
            case "/metrics" -> answer(exchange, 200, PROMETHEUS_TEXT, metrics::scrape);
            case "/health/live" -> health(exchange, metrics.live());
            case "/health/ready" -> health(exchange, metrics.ready());
            default ->
                answer(
                    exchange,
                    404,
                    "text/plain; charset=utf-8",
                    () -> "not found: try /metrics, /health/live or /health/ready\n");
          }
        });
    server.start();
    HttpEndpoint endpoint = new HttpEndpoint(server, executor);
    LOG.info(
        "Metrics on http://{}:{}/metrics, health on /health/live and /health/ready",
        settings.host(),
        endpoint.port());
    return endpoint;
  }

  /** The port listened on (the one picked when the settings say 0). */
  public int port() {
    return server.getAddress().getPort();
  }

  private static void health(HttpExchange exchange, Health.Verdict verdict) throws IOException {
    answer(exchange, verdict.healthy() ? 200 : 503, JSON, verdict::json);
  }

  private static void answer(
      HttpExchange exchange, int status, String contentType, Supplier<String> body)
      throws IOException {
    try (exchange) {
      if (!exchange.getRequestMethod().equals("GET")
          && !exchange.getRequestMethod().equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        exchange.sendResponseHeaders(405, -1);
        return;
      }
      byte[] bytes;
      try {
        bytes = body.get().getBytes(StandardCharsets.UTF_8);
      } catch (RuntimeException e) {
        LOG.warn("Could not answer {}: {}", exchange.getRequestURI().getPath(), e.toString());
        exchange.sendResponseHeaders(500, -1);
        return;
      }
      exchange.getResponseHeaders().set("Content-Type", contentType);
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      boolean head = exchange.getRequestMethod().equals("HEAD");
      exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(bytes);
        }
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
