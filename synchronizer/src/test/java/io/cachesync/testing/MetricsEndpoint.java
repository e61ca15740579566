package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** Reads a daemon's HTTP endpoint: its metrics in Prometheus's text format and its health. */
public final class MetricsEndpoint {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final int port;

  public MetricsEndpoint(int port) {
    this.port = port;
  }

  /** One answer: the status and the body. */
  public record Answer(int status, String body, Optional<String> contentType) {}

  public Answer get(String path) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(10))
            .GET()
            .build();
    try {
      HttpResponse<String> response = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
      return new Answer(
          response.statusCode(), response.body(), response.headers().firstValue("Content-Type"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public String metrics() {
    Answer answer = get("/metrics");
    if (answer.status() != 200) {
      throw new IllegalStateException(
          "/metrics answered " + answer.status() + ": " + answer.body());
    }
    return answer.body();
  }

  /**
   * The value of the sample {@code name} whose labels include {@code labels} (name, value, name,
   * value...), from a fresh scrape; empty when there is none.
   */
  public Optional<Double> value(String name, String... labels) {
    return sample(metrics(), name, labels);
  }

  /** As {@link #value(String, String...)}, from the text of a scrape. */
  public static Optional<Double> sample(String scrape, String name, String... labels) {
    for (String line : scrape.lines().toList()) {
      if (line.startsWith("#") || !line.startsWith(name)) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      String series = line.substring(0, space);
      String sampleName = series.contains("{") ? series.substring(0, series.indexOf('{')) : series;
      if (!sampleName.equals(name) || !matches(labelsOf(series), labels)) {
        continue;
      }
      return Optional.of(Double.parseDouble(line.substring(space + 1)));
    }
    return Optional.empty();
  }

  private static boolean matches(Map<String, String> actual, String... wanted) {
    for (int i = 0; i + 1 < wanted.length; i += 2) {
      if (!wanted[i + 1].equals(actual.get(wanted[i]))) {
        return false;
      }
    }
    return true;
  }

  /** The labels of a series such as {@code name{a="x",b="y"}} (values hold no quotes here). */
  private static Map<String, String> labelsOf(String series) {
    Map<String, String> labels = new HashMap<>();
    int open = series.indexOf('{');
    if (open < 0) {
      return labels;
    }
    for (String pair : series.substring(open + 1, series.length() - 1).split(",")) {
      int equals = pair.indexOf('=');
      if (equals > 0) {
        labels.put(pair.substring(0, equals), pair.substring(equals + 2, pair.length() - 1));
      }
    }
    return labels;
  }
}
