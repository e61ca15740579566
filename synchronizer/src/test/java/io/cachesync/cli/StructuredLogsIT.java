package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code CACHESYNC_LOG_FORMAT} on the built jar, as operators run it (stderr apart from stdout).
 */
class StructuredLogsIT {
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REDIS_PASSWORD = "Json-logs-never-show-7";

  /** What Debezium logs at INFO once it streams: its engine is fully started. */
  private static final String STREAMING = "Processing messages";

  private static final Set<String> FIELDS =
      Set.of(
          "timestamp",
          "level",
          "logger",
          "thread",
          "synchronizer",
          "table",
          "lsn",
          "message",
          "exception");
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  private static PostgresServer postgres;
  private static RedisServer redis;
  private static String database;

  @TempDir Path directory;

  private record Run(int exitCode, String stdout, String stderr) {}

  @BeforeAll
  static void startServers() {
    postgres = TestServers.sharedPostgres();
    database = postgres.createDatabase("jsonlogs");
    postgres.execute(
        database,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "INSERT INTO users VALUES (1, 'ada')");
    redis = TestServers.redis("--requirepass", REDIS_PASSWORD);
  }

  @AfterAll
  static void stopServers() {
    redis.close();
    for (String name : List.of("jsonlogs", "textlogs")) {
      postgres.execute(
          "postgres",
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
              + " WHERE slot_name = 'cachesync_"
              + name
              + "'");
    }
  }

  private Path config(String name) {
    return ConfigFiles.write(
        directory.resolve(name),
        name,
        ConfigFiles.postgres(postgres, database),
        "redis://:" + REDIS_PASSWORD + "@" + redis.host() + ":" + redis.port(),
        MAPPING);
  }

  /** Runs the jar with {@code environment}; a {@code run} is stopped (SIGTERM) once it streams. */
  private static Run run(Map<String, String> environment, String... arguments) throws Exception {
    Path out = Files.createTempFile("cachesync-logs-", ".out");
    Path err = Files.createTempFile("cachesync-logs-", ".err");
    List<String> command = new ArrayList<>(List.of("java", "-Xmx256m", "-jar", JAR.toString()));
    command.addAll(List.of(arguments));
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
    builder.environment().putAll(environment);
    Process process = builder.start();
    try {
      if (arguments[0].equals("run")) {
        await()
            .atMost(Duration.ofSeconds(90))
            .pollInterval(Duration.ofMillis(100))
            .failFast("the daemon exited:\n" + Files.readString(err), () -> !process.isAlive())
            .until(() -> Files.readString(err).contains(STREAMING));
        process.destroy();
      }
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("exited").isTrue();
      return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      process.destroyForcibly();
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static JsonNode parse(String line) {
    try {
      JsonNode json = JSON.readTree(line);
      assertThat(json.isObject()).as(line).isTrue();
      return json;
    } catch (IOException e) {
      throw new UncheckedIOException("not a JSON object: " + line, e);
    }
  }

  private static List<String> fieldNames(JsonNode json) {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }

  @Test
  void run_jsonFormat_everyStderrLineIsAJsonObjectOfTheConfiguredSynchronizer() throws Exception {
    Run run =
        run(
            Map.of("CACHESYNC_LOG_FORMAT", "json", "CACHESYNC_DEBEZIUM_LOG_LEVEL", "INFO"),
            "run",
            "--config",
            config("jsonlogs").toString());

    assertThat(run.exitCode()).as(run.stderr()).isZero();
    assertThat(run.stdout()).isEmpty();
    List<JsonNode> lines = run.stderr().lines().map(StructuredLogsIT::parse).toList();
    assertThat(lines).hasSizeGreaterThan(10);
    for (JsonNode line : lines) {
      assertThat(fieldNames(line))
          .as(line.toString())
          .containsSubsequence("timestamp", "level", "logger", "thread", "synchronizer", "message")
          .isSubsetOf(FIELDS);
      assertThat(line.get("timestamp").asText())
          .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
      assertThat(line.get("level").asText()).isIn("ERROR", "WARN", "INFO", "DEBUG", "TRACE");
      assertThat(line.get("synchronizer").asText()).as(line.toString()).isEqualTo("jsonlogs");
    }
    assertThat(lines)
        .extracting(line -> line.get("message").asText())
        .contains(
            "Starting: 1 tables, PostgreSQL "
                + postgres.host()
                + ":"
                + postgres.port()
                + "/"
                + database
                + ", Redis redis://:****@"
                + redis.host()
                + ":"
                + redis.port(),
            "State RUNNING -> STOPPING");
    // Debezium's own threads carry the name too, and its configuration (several lines in text
    // form) is one message.
    assertThat(lines)
        .filteredOn(line -> line.get("logger").asText().startsWith("io.debezium"))
        .extracting(line -> line.get("thread").asText())
        .anyMatch(thread -> !thread.equals("main"));
    assertThat(lines)
        .filteredOn(
            line -> line.get("message").asText().startsWith("Starting PostgresConnectorTask"))
        .singleElement()
        .satisfies(
            line ->
                assertThat(line.get("message").asText())
                    .contains(":\n")
                    .contains("\n   publication.name = cachesync_jsonlogs\n"));
    assertThat(run.stderr()).doesNotContain(REDIS_PASSWORD).doesNotContain("Json-logs");
  }

  @Test
  void run_defaultFormat_writesTheReadableLines() throws Exception {
    Run run =
        run(
            Map.of("CACHESYNC_DEBEZIUM_LOG_LEVEL", "INFO"),
            "run",
            "--config",
            config("textlogs").toString());

    assertThat(run.exitCode()).as(run.stderr()).isZero();
    List<String> lines = run.stderr().lines().toList();
    assertThat(lines.get(0))
        .matches(
            "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  \\[textlogs\\]"
                + " RunCommand: Starting: 1 tables, .*");
    assertThat(lines)
        .anyMatch(line -> line.endsWith(" INFO  [textlogs] Daemon: State RUNNING -> STOPPING"))
        .noneMatch(line -> line.startsWith("{"));
  }

  @Test
  void validate_unknownFormat_exitsTwoNamingTheVariableAndTheValues() throws Exception {
    Run run =
        run(
            Map.of("CACHESYNC_LOG_FORMAT", "xml"),
            "validate",
            "--config",
            config("xmllogs").toString(),
            "--offline");

    assertThat(run.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(run.stdout()).isEmpty();
    assertThat(run.stderr())
        .isEqualTo(
            "error: CACHESYNC_LOG_FORMAT is 'xml'; use text (the default: readable lines) or json"
                + " (one JSON object per line)\n");
  }

  @Test
  void validate_jsonFormatConfigurationErrors_areOneJsonLineAndStdoutKeepsNoLogs()
      throws Exception {
    Path config = config("badlogs");
    Files.writeString(config, Files.readString(config).replace("name: badlogs", "name: Bad"));

    Run run =
        run(Map.of("CACHESYNC_LOG_FORMAT", "json"), "validate", "--config", config.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(run.stdout()).isEmpty();
    assertThat(run.stderr()).hasLineCount(1);
    JsonNode line = parse(run.stderr());
    assertThat(line.get("level").asText()).isEqualTo("ERROR");
    assertThat(line.get("message").asText())
        .startsWith(
            "1 configuration problem:\n  1. " + config + ":1:1: name: 'Bad' is not a valid name");
  }
}
