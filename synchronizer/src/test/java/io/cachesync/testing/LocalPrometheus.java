package io.cachesync.testing;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway Prometheus server run from the installed {@code prometheus}, on a free port with its
 * own data folder. It scrapes itself (job {@code prometheus}) and the given targets every second,
 * and answers PromQL queries through its HTTP API.
 */
public final class LocalPrometheus implements AutoCloseable {
  /** The job under which the server scrapes its own metrics. */
  public static final String SELF_JOB = "prometheus";

  private static final Duration SCRAPE_INTERVAL = Duration.ofSeconds(1);

  private final Path executable;
  private final Path directory;
  private final Map<String, List<String>> targetsByJob;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final ObjectMapper json = new ObjectMapper();
  private int port;
  private Process process;

  private LocalPrometheus(Path executable, Path directory, Map<String, List<String>> targetsByJob) {
    this.executable = executable;
    this.directory = directory;
    this.targetsByJob = Map.copyOf(targetsByJob);
  }

  static LocalPrometheus create(Path executable, Map<String, List<String>> targetsByJob) {
    if (targetsByJob.containsKey(SELF_JOB)) {
      throw new IllegalArgumentException(
          "job '" + SELF_JOB + "' is the server's own; name the job otherwise");
    }
    try {
      LocalPrometheus server =
          new LocalPrometheus(
              executable, Files.createTempDirectory("cachesync-prometheus-"), targetsByJob);
      Cleanup.register(server);
      try {
        LocalPostgres.startOnFreePort(server::start);
      } catch (RuntimeException | IOException e) {
        server.close();
        throw e;
      }
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void start(int freePort) throws IOException {
    port = freePort;
    Path config = directory.resolve("prometheus.yml");
    new ObjectMapper(new YAMLFactory()).writeValue(config.toFile(), configuration());
    Path data = directory.resolve("data");
    Cleanup.delete(data);
    process =
        new ProcessBuilder(
                executable.toString(),
                "--config.file=" + config,
                "--storage.tsdb.path=" + data,
                "--web.listen-address=" + address(),
                "--log.level=warn")
            .redirectErrorStream(true)
            .redirectOutput(directory.resolve("prometheus.log").toFile())
            .start();
    try {
      await("Prometheus on port " + port)
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .ignoreExceptions()
          .failFast("prometheus exited", () -> !process.isAlive())
          .until(() -> get("/-/ready").statusCode() == 200);
    } catch (org.awaitility.core.ConditionTimeoutException
        | org.awaitility.core.TerminalFailureException e) {
      stopProcess();
      throw new IllegalStateException("Prometheus did not start on port " + port + ": " + log(), e);
    }
  }

  private Map<String, Object> configuration() {
    String interval = SCRAPE_INTERVAL.toSeconds() + "s";
    List<Map<String, Object>> jobs = new ArrayList<>();
    jobs.add(job(SELF_JOB, List.of(address())));
    targetsByJob.forEach((name, targets) -> jobs.add(job(name, targets)));
    Map<String, Object> global = new LinkedHashMap<>();
    global.put("scrape_interval", interval);
    global.put("scrape_timeout", interval);
    global.put("evaluation_interval", interval);
    Map<String, Object> configuration = new LinkedHashMap<>();
    configuration.put("global", global);
    configuration.put("scrape_configs", jobs);
    return configuration;
  }

  private static Map<String, Object> job(String name, List<String> targets) {
    Map<String, Object> job = new LinkedHashMap<>();
    job.put("job_name", name);
    job.put("static_configs", List.of(Map.of("targets", List.copyOf(targets))));
    return job;
  }

  /**
   * Evaluates {@code promql} now (an instant query) and returns its samples: one per series of a
   * vector, or one without labels for a scalar.
   *
   * @throws IllegalArgumentException when Prometheus rejects the query, with its error message
   */
  public List<Sample> query(String promql) {
    JsonNode response;
    try {
      response =
          json.readTree(
              get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
                  .body());
    } catch (IOException e) {
      throw new UncheckedIOException("query " + promql + " on " + this, e);
    }
    if (!"success".equals(response.path("status").asText())) {
      throw new IllegalArgumentException(
          "Prometheus rejected "
              + promql
              + ": "
              + response.path("error").asText(response.toString()));
    }
    JsonNode data = response.path("data");
    String type = data.path("resultType").asText();
    return switch (type) {
      case "vector" -> {
        List<Sample> samples = new ArrayList<>();
        for (JsonNode series : data.path("result")) {
          Map<String, String> labels = new LinkedHashMap<>();
          series
              .path("metric")
              .fields()
              .forEachRemaining(l -> labels.put(l.getKey(), l.getValue().asText()));
          samples.add(new Sample(labels, number(series.path("value").path(1).asText())));
        }
        yield List.copyOf(samples);
      }
      case "scalar" -> List.of(new Sample(Map.of(), number(data.path("result").path(1).asText())));
      default ->
          throw new IllegalArgumentException(
              promql + " gives a " + type + ", not an instant vector or a scalar");
    };
  }

  private static double number(String text) {
    return Double.parseDouble(text.replace("Inf", "Infinity"));
  }

  private HttpResponse<String> get(String pathAndQuery) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://" + address() + pathAndQuery))
            .timeout(Duration.ofSeconds(10))
            .build();
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while asking " + this, e);
    }
  }

  /** {@code 127.0.0.1:port}, where the server listens. */
  public String address() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  @Override
  public void close() {
    stopProcess();
    Cleanup.delete(directory);
    Cleanup.unregister(this);
  }

  private void stopProcess() {
    if (process == null) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private String log() {
    try {
      return Files.readString(directory.resolve("prometheus.log"));
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public String toString() {
    return "Prometheus at " + address();
  }

  /** One series of a query result: its labels (with {@code __name__} when kept) and value. */
  public record Sample(Map<String, String> labels, double value) {
    public Sample {
      labels = Map.copyOf(labels);
    }
  }
}
