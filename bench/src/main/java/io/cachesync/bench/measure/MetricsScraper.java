package io.cachesync.bench.measure;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Scrapes a daemon's {@code /metrics} at a fixed interval, as Prometheus does, from the moment the
 * daemon logs its port until {@link #close()}: one GET at a time, the body read whole and thrown
 * away.
 */
public final class MetricsScraper implements AutoCloseable {
  /** What the scrapes did. */
  public record Scrapes(long answered, long failed, long bytes, String lastFailure) {}

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final Supplier<OptionalInt> port;
  private final HttpClient client;
  private final ScheduledExecutorService schedule;
  private final AtomicLong answered = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicReference<String> lastFailure = new AtomicReference<>("");
  private volatile HttpRequest request;

  private MetricsScraper(Supplier<OptionalInt> port) {
    this.port = port;
    this.client = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    this.schedule =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "bench-scraper");
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Starts scraping {@code http://127.0.0.1:PORT/metrics} every {@code interval}; until {@code
   * port} knows the port (the daemon logged it), each tick only asks it again.
   */
  public static MetricsScraper start(Supplier<OptionalInt> port, Duration interval) {
    MetricsScraper scraper = new MetricsScraper(port);
    scraper.schedule.scheduleAtFixedRate(
        scraper::tick, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    return scraper;
  }

  private void tick() {
    if (request == null) {
      OptionalInt known = port.get();
      if (known.isEmpty()) {
        return;
      }
      request =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + known.getAsInt() + "/metrics"))
              .timeout(TIMEOUT)
              .GET()
              .build();
    }
    try {
      HttpResponse<byte[]> response = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
      if (response.statusCode() == 200) {
        answered.incrementAndGet();
        bytes.addAndGet(response.body().length);
      } else {
        fail("HTTP " + response.statusCode());
      }
    } catch (IOException e) {
      fail(e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void fail(String why) {
    failed.incrementAndGet();
    lastFailure.set(why);
  }

  /** The scrapes so far. */
  public Scrapes scrapes() {
    return new Scrapes(answered.get(), failed.get(), bytes.get(), lastFailure.get());
  }

  /** Stops scraping, waiting for a scrape under way. */
  @Override
  public void close() {
    schedule.shutdown();
    try {
      if (!schedule.awaitTermination(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        schedule.shutdownNow();
      }
    } catch (InterruptedException e) {
      schedule.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
