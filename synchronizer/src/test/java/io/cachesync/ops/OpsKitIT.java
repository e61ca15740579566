package io.cachesync.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.cachesync.testing.LocalPrometheus;
import io.cachesync.testing.TestServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator kit in {@code ops/}: the alert rules and the example configuration pass promtool,
 * the rules' unit tests pass and cover every alert, and the rules and the dashboard read only
 * metrics the daemon exports, so renaming a metric breaks this test rather than an operator's
 * alert.
 */
class OpsKitIT {
  /** Every series the daemon exports under these names (Micrometer's Prometheus registry). */
  static final Set<String> EXPORTED =
      Set.of(
          "cachesync_changes_applied_total",
          "cachesync_changes_skipped_total",
          "cachesync_commit_to_redis_seconds_bucket",
          "cachesync_commit_to_redis_seconds_count",
          "cachesync_commit_to_redis_seconds_sum",
          "cachesync_batch_seconds_bucket",
          "cachesync_batch_seconds_count",
          "cachesync_batch_seconds_sum",
          "cachesync_lag_seconds",
          "cachesync_source_position",
          "cachesync_confirmed_position",
          "cachesync_slot_retained_wal_bytes",
          "cachesync_redis_errors_total",
          "cachesync_retries_total",
          "cachesync_cache_reloads_total",
          "cachesync_cache_repairs_total",
          "cachesync_load_rows_total",
          "cachesync_load_rows_estimated",
          "cachesync_loads_pending",
          "cachesync_state",
          "cachesync_last_batch_timestamp_seconds",
          // Micrometer's JVM and process binders
          "jvm_memory_used_bytes",
          "jvm_memory_committed_bytes",
          "jvm_memory_max_bytes",
          "jvm_gc_pause_seconds_count",
          "jvm_gc_pause_seconds_sum",
          "jvm_threads_live_threads",
          "process_cpu_usage",
          "system_cpu_usage",
          "process_uptime_seconds",
          "process_start_time_seconds",
          // Prometheus' own, per scrape target
          "up");

  private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\((.+),\\s*\\w+\\)");

  private static final Path ROOT = repositoryRoot();
  private static final Path RULES = ROOT.resolve("ops/prometheus/cachesync-alerts.yml");
  private static final Path RULE_TESTS = ROOT.resolve("ops/prometheus/cachesync-alerts.test.yml");
  private static final Path EXAMPLE_CONFIG = ROOT.resolve("ops/prometheus/prometheus.yml");
  private static final Path DASHBOARD = ROOT.resolve("ops/grafana/cachesync-dashboard.json");

  private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
  private final ObjectMapper json = new ObjectMapper();

  @Test
  void alertRules_promtoolCheck_findsEveryRule() throws IOException {
    ToolRun run = promtool(ROOT, "check", "rules", RULES.toString());

    assertThat(run.exitCode()).as(run.output()).isZero();
    assertThat(run.output()).contains("SUCCESS: " + rules().size() + " rules found");
  }

  @Test
  void alertRules_promtoolUnitTests_pass() {
    ToolRun run = promtool(ROOT, "test", "rules", RULE_TESTS.toString());

    assertThat(run.exitCode()).as(run.output()).isZero();
    assertThat(run.output()).contains("SUCCESS");
  }

  @Test
  void alertRules_unitTests_showEveryAlertFiringAndSilent() throws IOException {
    Set<String> firing = new TreeSet<>();
    Set<String> silent = new TreeSet<>();
    for (JsonNode test : yaml.readTree(RULE_TESTS.toFile()).path("tests")) {
      for (JsonNode check : test.path("alert_rule_test")) {
        (check.path("exp_alerts").isEmpty() ? silent : firing)
            .add(check.path("alertname").asText());
      }
    }
    Set<String> alerts = new TreeSet<>(rules().keySet());

    assertThat(firing).as("alerts shown firing").isEqualTo(alerts);
    assertThat(silent).as("alerts shown silent").isEqualTo(alerts);
  }

  @Test
  void alertRules_everyRule_hasSeveritySummaryAndDescription() throws IOException {
    for (JsonNode rule : rules().values()) {
      String alert = rule.path("alert").asText();
      assertThat(rule.path("labels").path("severity").asText())
          .as(alert + " severity")
          .isIn("warning", "critical");
      assertThat(rule.path("annotations").path("summary").asText())
          .as(alert + " summary")
          .isNotBlank();
      assertThat(rule.path("annotations").path("description").asText())
          .as(alert + " description")
          .isNotBlank();
    }
  }

  @Test
  void alertRules_readOnlyExportedMetrics() throws IOException {
    Set<String> used = new TreeSet<>();
    for (JsonNode rule : rules().values()) {
      used.addAll(PromqlMetricNames.in(rule.path("expr").asText()));
    }

    assertThat(used)
        .isSubsetOf(EXPORTED)
        .contains(
            "up",
            "cachesync_state",
            "cachesync_lag_seconds",
            "cachesync_last_batch_timestamp_seconds",
            "cachesync_slot_retained_wal_bytes",
            "cachesync_redis_errors_total",
            "cachesync_retries_total",
            "cachesync_loads_pending",
            "cachesync_cache_reloads_total",
            "cachesync_changes_skipped_total");
  }

  @Test
  void exampleConfig_promtoolCheck_loadsTheAlertRulesBesideIt(@TempDir Path elsewhere)
      throws IOException {
    // From another folder: the rule file is found relative to the configuration, not the caller.
    ToolRun run = promtool(elsewhere, "check", "config", EXAMPLE_CONFIG.toString());

    assertThat(run.exitCode()).as(run.output()).isZero();
    assertThat(run.output())
        .contains("SUCCESS: 1 rule files found")
        .contains("Checking " + RULES)
        .contains("SUCCESS: " + rules().size() + " rules found");
  }

  @Test
  void exampleConfig_scrapesTheDaemonsDefaultAddressAsJobCachesync() throws IOException {
    JsonNode jobs = yaml.readTree(EXAMPLE_CONFIG.toFile()).path("scrape_configs");

    assertThat(jobs).hasSize(1);
    assertThat(jobs.path(0).path("job_name").asText()).isEqualTo("cachesync");
    assertThat(jobs.path(0).path("static_configs").path(0).path("targets").path(0).asText())
        .isEqualTo("127.0.0.1:9464");
  }

  @Test
  void dashboard_everyPanel_usesTheDatasourceVariable() throws IOException {
    JsonNode dashboard = json.readTree(DASHBOARD.toFile());
    List<String> datasourceVariables = new ArrayList<>();
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      if (variable.path("type").asText().equals("datasource")) {
        datasourceVariables.add(
            variable.path("name").asText() + ":" + variable.path("query").asText());
      }
    }
    List<String> panelsWithOtherSources = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      if (!panel.path("type").asText().equals("row")
          && !panel.path("datasource").path("uid").asText().equals("${datasource}")) {
        panelsWithOtherSources.add(panel.path("title").asText());
      }
    }

    assertThat(datasourceVariables).containsExactly("datasource:prometheus");
    assertThat(panelsWithOtherSources).isEmpty();
  }

  @Test
  void dashboard_readsOnlyExportedMetrics() throws IOException {
    Set<String> used = new TreeSet<>();
    for (String query : dashboardQueries().keySet()) {
      used.addAll(PromqlMetricNames.in(query));
    }

    assertThat(used)
        .isSubsetOf(EXPORTED)
        .contains(
            "cachesync_state",
            "cachesync_lag_seconds",
            "cachesync_commit_to_redis_seconds_bucket",
            "cachesync_changes_applied_total",
            "cachesync_changes_skipped_total",
            "cachesync_slot_retained_wal_bytes",
            "cachesync_load_rows_total",
            "cachesync_load_rows_estimated",
            "cachesync_redis_errors_total",
            "jvm_memory_used_bytes");
  }

  @Test
  void dashboard_everyQuery_isAcceptedByPrometheus() throws IOException {
    Map<String, String> rejected = new LinkedHashMap<>();
    try (LocalPrometheus prometheus = TestServers.prometheus(Map.of())) {
      for (Map.Entry<String, String> query : dashboardQueries().entrySet()) {
        String promql =
            query
                .getKey()
                .replace("$__rate_interval", "1m")
                .replace("$synchronizer", ".*")
                .replace("$instance", ".*");
        try {
          prometheus.query(promql);
        } catch (IllegalArgumentException e) {
          rejected.put(query.getValue(), e.getMessage());
        }
      }
    }

    assertThat(rejected).isEmpty();
  }

  /** Each PromQL expression of the dashboard (panel targets, variables) and where it is. */
  private Map<String, String> dashboardQueries() throws IOException {
    JsonNode dashboard = json.readTree(DASHBOARD.toFile());
    Map<String, String> queries = new LinkedHashMap<>();
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      if (variable.path("type").asText().equals("query")) {
        Matcher labelValues = LABEL_VALUES.matcher(variable.path("query").path("query").asText());
        assertThat(labelValues.matches()).as("variable " + variable.path("name")).isTrue();
        queries.put(labelValues.group(1), "variable " + variable.path("name").asText());
      }
    }
    for (JsonNode panel : dashboard.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        queries.put(target.path("expr").asText(), "panel '" + panel.path("title").asText() + "'");
      }
    }
    assertThat(queries).hasSizeGreaterThan(10);
    return queries;
  }

  /** The alert rules by name. */
  private Map<String, JsonNode> rules() throws IOException {
    Map<String, JsonNode> rules = new LinkedHashMap<>();
    for (JsonNode group : yaml.readTree(RULES.toFile()).path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        rules.put(rule.path("alert").asText(), rule);
      }
    }
    return rules;
  }

  private static ToolRun promtool(Path workingDirectory, String... arguments) {
    List<String> command = new ArrayList<>();
    command.add(TestServers.promtool().toString());
    command.addAll(List.of(arguments));
    try {
      Process process =
          new ProcessBuilder(command)
              .directory(workingDirectory.toFile())
              .redirectErrorStream(true)
              .start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(command + " did not finish in 60 s: " + output);
      }
      return new ToolRun(process.exitValue(), output);
    } catch (IOException e) {
      throw new IllegalStateException("could not run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command, e);
    }
  }

  /** The repository's root: the nearest folder above the working directory holding ops/. */
  private static Path repositoryRoot() {
    Path start = Path.of("").toAbsolutePath();
    return Stream.iterate(start, folder -> folder != null, Path::getParent)
        .filter(folder -> Files.isDirectory(folder.resolve("ops/prometheus")))
        .findFirst()
        .orElseThrow(
            () -> new IllegalStateException("no folder holding ops/prometheus above " + start));
  }

  private record ToolRun(int exitCode, String output) {}
}
