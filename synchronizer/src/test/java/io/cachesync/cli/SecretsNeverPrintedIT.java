package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.testing.ClosedPort;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.io.File;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No output of any command, in any failure, holds any part of a password: every command runs as
 * operators run it (a child process of the distribution's jar, stdout and stderr together, with
 * Debezium logging at INFO), with and without {@code --verbose}, against configurations whose
 * passwords hold {@code ${}, {@code @}, {@code :}, {@code /} and {@code #}, each configuration
 * broken in one way.
 */
class SecretsNeverPrintedIT {
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();

  /** The PostgreSQL password, as cachesync receives it. */
  private static final String PG_PASSWORD = "Pg${Zq@x:y/Vw#Kp9";

  /** The Redis password, as cachesync receives it. */
  private static final String REDIS_PASSWORD = "Rd${Tn@u:w/Qs#Lm4";

  /** What Debezium logs once it streams, after it logged its configuration. */
  private static final String STREAMING = "PostgresStreamingChangeEventSource: Processing messages";

  /** What {@code run} logs when it waits for a server the second time. */
  private static final String SECOND_RETRY = "; trying again in 2 s";

  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  /** Every command that reads the configuration. */
  private static final List<String> COMMANDS =
      List.of("validate", "verify", "resync", "status", "run");

  private static PostgresServer postgres;
  private static RedisServer redis;
  private static RedisServer lockedRedis;
  private static String database;

  /** Where nothing listens, for the setups that point PostgreSQL or Redis there. */
  private static ClosedPort closedPort;

  @TempDir Path directory;

  @BeforeAll
  static void startServers() {
    postgres = TestServers.sharedPostgres();
    database = postgres.createDatabase("secrets");
    postgres.execute(
        database,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "INSERT INTO users VALUES (1, 'ada')",
        "GRANT SELECT ON users TO " + PostgresServer.PASSWORD_ROLE);
    redis = TestServers.redis("--requirepass", REDIS_PASSWORD);
    lockedRedis = TestServers.redis("--requirepass", "Another-right-pw-5");
    closedPort = new ClosedPort();
  }

  @AfterAll
  static void stopServers() {
    redis.close();
    lockedRedis.close();
    closedPort.close();
  }

  /**
   * One way of breaking the configuration: the text of synchronizer.yml, and the files beside it
   * (name to content, written readable by everyone so that the warning about them is printed too).
   */
  private record Setup(String name, String settings, Map<String, String> files) {
    Setup(String name, String settings) {
      this(name, settings, Map.of());
    }
  }

  private static String settings(String postgres, String redisUri) {
    return settings(postgres, redisUri, "");
  }

  private static String settings(String postgres, String redisUri, String redisLines) {
    return "name: shop\npostgres:\n"
        + postgres
        + "redis:\n  uri: '"
        + redisUri
        + "'\n"
        + redisLines
        + "mapping: mapping.yml\n"
        + "http:\n  port: 0\n";
  }

  /** The passwords in files, each with a line end after it, as an editor saves them. */
  private static final Map<String, String> PASSWORD_FILES =
      Map.of("pg.secret", PG_PASSWORD + "\n", "redis.secret", REDIS_PASSWORD + "\n");

  private static String postgresSection(String user, int port, String passwordLine) {
    return "  host: 127.0.0.1\n  port: "
        + port
        + "\n  database: "
        + database
        + "\n  user: "
        + user
        + "\n"
        + passwordLine;
  }

  /** The password as YAML's single-quoted text holding a literal {@code ${}. */
  private static String literal(String password) {
    return "  password: '" + password.replace("${", "$${") + "'\n";
  }

  private static String redisUri(String password, int port) {
    return "redis://:" + URLEncoder.encode(password, StandardCharsets.UTF_8) + "@127.0.0.1:" + port;
  }

  private static List<Setup> setups() {
    int closed = closedPort.port();
    String superuser = PostgresServer.SUPERUSER;
    String goodRedis = redisUri(REDIS_PASSWORD, redis.port());
    String pgLiteral = literal(PG_PASSWORD);
    return List.of(
        new Setup(
            "bad YAML: an unknown escape in the password",
            settings(
                postgresSection(superuser, postgres.port(), "  password: \"Pg\\qZq@x:y/Vw#Kp9\"\n"),
                goodRedis)),
        new Setup(
            "bad YAML: an unclosed quote in the password",
            settings(
                postgresSection(superuser, postgres.port(), "  password: \"" + PG_PASSWORD + "\n"),
                goodRedis)),
        new Setup(
            "unknown key next to the passwords",
            settings(
                postgresSection(superuser, postgres.port(), pgLiteral + "  pasword: x\n"),
                goodRedis)),
        new Setup(
            "a password holding ${ unescaped",
            settings(
                postgresSection(superuser, postgres.port(), "  password: '" + PG_PASSWORD + "'\n"),
                "redis://:" + REDIS_PASSWORD.replace("@", "%40") + "@127.0.0.1:" + redis.port())),
        new Setup(
            "bad URI: the Redis password not percent-encoded",
            settings(
                postgresSection(superuser, postgres.port(), pgLiteral),
                ("redis://:" + REDIS_PASSWORD + "@127.0.0.1:" + redis.port())
                    .replace("${", "$${"))),
        new Setup(
            "unreachable servers",
            settings(
                postgresSection(superuser, closed, pgLiteral), redisUri(REDIS_PASSWORD, closed))),
        new Setup(
            "unreachable Redis",
            settings(
                postgresSection(superuser, postgres.port(), pgLiteral),
                redisUri(REDIS_PASSWORD, closed))),
        new Setup(
            "wrong passwords",
            settings(
                postgresSection(PostgresServer.PASSWORD_ROLE, postgres.port(), pgLiteral),
                redisUri(REDIS_PASSWORD, lockedRedis.port()))),
        new Setup(
            "wrong Redis password",
            settings(
                postgresSection(superuser, postgres.port(), pgLiteral),
                redisUri(REDIS_PASSWORD, lockedRedis.port()))),
        new Setup(
            "wrong passwords in files",
            settings(
                postgresSection(
                    PostgresServer.PASSWORD_ROLE, postgres.port(), "  passwordFile: pg.secret\n"),
                "redis://127.0.0.1:" + lockedRedis.port(),
                "  passwordFile: redis.secret\n"),
            PASSWORD_FILES),
        new Setup(
            "passwords in files next to passwords in the settings",
            settings(
                postgresSection(
                    superuser, postgres.port(), pgLiteral + "  passwordFile: pg.secret\n"),
                goodRedis,
                "  passwordFile: redis.secret\n"),
            PASSWORD_FILES),
        new Setup(
            "everything right, passwords in files",
            settings(
                postgresSection(superuser, postgres.port(), "  passwordFile: pg.secret\n"),
                "redis://127.0.0.1:" + redis.port(),
                "  passwordFile: redis.secret\n"),
            PASSWORD_FILES),
        new Setup(
            "everything right (run starts streaming)",
            settings(postgresSection(superuser, postgres.port(), pgLiteral), goodRedis)));
  }

  /**
   * One run of a command: what it must print, checked once it ended. The runs that can take the
   * writer's role ({@code resync}, {@code run} on working servers) run one at a time, as their
   * checks expect a daemon that streams; the others, which fail before or only read, run beside
   * them on two more threads (130 JVMs one after the other took over 3 minutes).
   */
  private record Run(Setup setup, Path config, String command, boolean verbose) {
    List<String> arguments() {
      List<String> arguments = new ArrayList<>(List.of(command, "--config", config.toString()));
      if (verbose) {
        arguments.add("--verbose");
      }
      return arguments;
    }

    /** Whether the run can take the writer's role: a daemon's command on working servers. */
    boolean takesTheRole() {
      return setup.name().startsWith("everything right")
          && (command.equals("resync") || command.equals("run"));
    }
  }

  @Test
  void everyCommand_everyKindOfFailure_printsNoPartOfAnyPassword() throws Exception {
    List<Run> runs = new ArrayList<>();
    List<Setup> setups = setups();
    for (Setup setup : setups) {
      Path config = write(setup);
      for (String command : COMMANDS) {
        for (boolean verbose : new boolean[] {false, true}) {
          runs.add(new Run(setup, config, command, verbose));
        }
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      ConcurrentLinkedQueue<Run> readers =
          new ConcurrentLinkedQueue<>(runs.stream().filter(r -> !r.takesTheRole()).toList());
      List<Future<?>> reading = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        reading.add(
            pool.submit(
                () -> {
                  Run next;
                  while ((next = readers.poll()) != null) {
                    runInto(next);
                  }
                  return null;
                }));
      }
      for (Run run : runs.stream().filter(Run::takesTheRole).toList()) {
        runInto(run);
      }
      Run next;
      while ((next = readers.poll()) != null) {
        runInto(next);
      }
      for (Future<?> done : reading) {
        done.get();
      }
    } finally {
      pool.shutdownNow();
    }
    List<String> leaks = new ArrayList<>();
    for (Run run : runs) {
      String output = outputs.get(run);
      String where = run.setup().name() + ": " + String.join(" ", run.arguments());
      assertThat(output).as(where).isNotNull().isNotBlank();
      if (!run.setup().files().isEmpty()
          && !run.setup().name().startsWith("passwords in files next")
          && run.command().equals("validate")) {
        // A valid configuration whose password files others may read: the warning is printed.
        assertThat(output).as(where).contains("may be read by its group and every user");
      }
      if (run.setup().name().startsWith("everything right") && run.command().equals("run")) {
        // Debezium logs its whole configuration as it starts; the test must have seen it.
        assertThat(output)
            .as(where)
            .contains("Starting PostgresConnectorTask with configuration")
            .contains("database.password = ********")
            .contains(STREAMING);
      }
      for (String line : output.lines().toList()) {
        for (String piece : secretPieces()) {
          if (line.contains(piece)) {
            leaks.add(where + "\n    '" + piece + "' in: " + line);
            break;
          }
        }
      }
    }
    assertThat(outputs).hasSize(setups.size() * COMMANDS.size() * 2);
    assertThat(leaks).as("output lines holding a part of a password").isEmpty();
  }

  /** What each run printed. */
  private final Map<Run, String> outputs = new ConcurrentHashMap<>();

  private void runInto(Run run) throws Exception {
    outputs.put(run, run(run.arguments()));
  }

  /** Every run of 4 characters of each password, as given and as percent-encoded in the URI. */
  private static Set<String> secretPieces() {
    Set<String> pieces = new LinkedHashSet<>();
    for (String secret :
        List.of(
            PG_PASSWORD,
            REDIS_PASSWORD,
            URLEncoder.encode(REDIS_PASSWORD, StandardCharsets.UTF_8),
            REDIS_PASSWORD.replace("@", "%40"))) {
      for (int i = 0; i + 4 <= secret.length(); i++) {
        pieces.add(secret.substring(i, i + 4));
      }
    }
    return pieces;
  }

  private Path write(Setup setup) throws IOException {
    Path dir = Files.createTempDirectory(directory, "setup");
    Files.writeString(dir.resolve("mapping.yml"), MAPPING);
    for (Map.Entry<String, String> file : setup.files().entrySet()) {
      Path path = dir.resolve(file.getKey());
      Files.writeString(path, file.getValue());
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-r--r--"));
    }
    Path config = dir.resolve("synchronizer.yml");
    Files.writeString(config, setup.settings());
    return config;
  }

  /**
   * Runs the command to its end; {@code run}, which streams or waits for its servers until stopped,
   * is stopped (SIGTERM) once it streams or has retried twice, or after a bound.
   */
  private static String run(List<String> arguments) throws Exception {
    File log = Files.createTempFile("cachesync-secrets-", ".log").toFile();
    log.deleteOnExit();
    // C1 only and the serial collector: these short runs spent most of their CPU in the JIT.
    List<String> command =
        new ArrayList<>(
            List.of(
                "java",
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-jar",
                JAR.toString()));
    command.addAll(arguments);
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log);
    builder.environment().put("CACHESYNC_LOG_LEVEL", "DEBUG");
    builder.environment().put("CACHESYNC_DEBEZIUM_LOG_LEVEL", "INFO");
    Process process = builder.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (!process.waitFor(200, TimeUnit.MILLISECONDS)) {
        String text = Files.readString(log.toPath());
        if (text.contains(STREAMING)
            || text.contains(SECOND_RETRY)
            || System.nanoTime() > deadline) {
          process.destroy();
          process.waitFor(30, TimeUnit.SECONDS);
          break;
        }
      }
    } finally {
      process.destroyForcibly();
    }
    return Files.readString(log.toPath());
  }
}
