package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The whole workflow runs with exactly the rights {@code cachesync grants} prints: a PostgreSQL
 * role that is {@code LOGIN REPLICATION} and owns nothing (the tables are the superuser's, and
 * PUBLIC's default rights on the database and its schema are revoked, so the role has only what is
 * granted), and a Redis ACL user that has nothing but a password. The printed SQL is applied with
 * {@code psql} as the superuser and the printed line with {@code redis-cli}, each twice. Then
 * {@code run} loads and streams inserts, updates, deletes and a TRUNCATE, {@code resync}, {@code
 * verify --repair}, {@code status} and {@code validate} succeed, Redis holds exactly the rows, and
 * Redis refused no command (its ACL log). Then each right is taken away in turn and {@code
 * validate} names it.
 *
 * <p>The role's name holds a quote and upper case, and so does a table's name and a key prefix glob
 * characters, so that quoting and escaping are exercised by the real psql and redis-cli.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeastPrivilegeIT {
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REDIS_USER = "cs";
  private static final String MAPPING =
      "tables:\n"
          + "  - table: public.users\n    key: \"user:{id}\"\n"
          + "  - table: public.OrderLines\n    key: \"ol[*]:{order_id}:{line}\"\n"
          + "    format: json\n";

  private PostgresServer postgres;
  private RedisServer redisServer;
  private RedisProbe redis;
  private String database;
  private String name;
  private String role;
  private Path config;
  private String sql;
  private String aclLine;
  private DaemonProcess daemon;

  @BeforeAll
  void setUp() throws IOException {
    postgres = TestServers.sharedPostgres();
    database = postgres.createDatabase("leastpriv");
    name = database;
    role = "Cs\"Least_" + database;
    postgres.execute(
        database,
        "CREATE ROLE " + quoted(role) + " LOGIN REPLICATION PASSWORD 'Least-pw-7'",
        "REVOKE ALL ON DATABASE " + database + " FROM PUBLIC",
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
        "CREATE TABLE users (id int PRIMARY KEY, name text, email text)",
        "INSERT INTO users SELECT i, 'user ' || i, 'u' || i || '@example.org'"
            + " FROM generate_series(1, 20) i",
        "CREATE TABLE \"OrderLines\" (order_id int, line int, sku text, qty int,"
            + " PRIMARY KEY (order_id, line))",
        "INSERT INTO \"OrderLines\" SELECT i / 3, i % 3, 'sku-' || i, i FROM generate_series(1, 15) i");
    redisServer = TestServers.redis();
    redis = new RedisProbe(redisServer);
    redisServer.command("ACL", "SETUSER", REDIS_USER, "on", ">Redis-pw-8");
    Path directory = Files.createTempDirectory("cachesync-least-");
    config =
        ConfigFiles.write(
            directory,
            name,
            "host: "
                + postgres.host()
                + "\nport: "
                + postgres.port()
                + "\ndatabase: "
                + database
                + "\nuser: '"
                + role
                + "'\npassword: Least-pw-7\n",
            "redis://" + REDIS_USER + ":Redis-pw-8@127.0.0.1:" + redisServer.port(),
            MAPPING);
    daemon = new DaemonProcess(config);
  }

  @AfterAll
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    if (redis != null) {
      redis.close();
    }
    if (redisServer != null) {
      redisServer.close();
    }
    if (postgres != null && database != null) {
      postgres.execute(
          "postgres",
          "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
              + " WHERE slot_name = 'cachesync_"
              + name
              + "'",
          "DROP DATABASE " + database + " WITH (FORCE)",
          "DROP ROLE IF EXISTS " + quoted(role));
    }
  }

  @Test
  @Order(1)
  void grants_printedAndAppliedTwice_succeedEachTime() throws Exception {
    Output postgresGrants = cachesync("grants", "--postgres", "--config", config.toString());
    Output redisGrants = cachesync("grants", "--redis", "--config", config.toString());
    assertThat(postgresGrants.exitCode()).as(postgresGrants.err()).isZero();
    assertThat(redisGrants.exitCode()).as(redisGrants.err()).isZero();
    sql = postgresGrants.out();
    aclLine = redisGrants.out();

    assertThat(sql)
        .contains("GRANT SELECT ON TABLE \"public\".\"OrderLines\" TO " + quoted(role) + ";")
        .contains("CREATE ROLE " + quoted(role) + " LOGIN REPLICATION PASSWORD '...';")
        .doesNotContain("SUPERUSER")
        .doesNotContain("OWNER");
    assertThat(aclLine.lines().toList()).hasSize(1);
    assertThat(aclLine)
        .startsWith("ACL SETUSER cs +")
        .contains("\"~ol\\\\[\\\\*\\\\]:*\"")
        .contains(" ~user:* ")
        .doesNotContain("reset")
        .doesNotContain(">")
        .doesNotContain("nopass");

    for (int time = 1; time <= 2; time++) {
      Output psql = psql(sql);
      assertThat(psql.exitCode()).as("psql, time " + time + ":\n" + psql.err()).isZero();
      Output cli = redisCli(aclLine);
      assertThat(cli.exitCode()).as(cli.err()).isZero();
      assertThat(cli.out().strip()).as("redis-cli, time " + time).isEqualTo("OK");
    }
    assertThat(
            redisServer.command("ACL", "DRYRUN", REDIS_USER, "SET", "ol[*]:1:2", "x")
                + redisServer.command("ACL", "DRYRUN", REDIS_USER, "SET", "ol[x]:1:2", "x"))
        .as("the escaped prefix grants the table's keys and only them")
        .startsWith("+OK")
        .contains("no permissions");

    CommandRun validate = validate();
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(ExitCode.OK);
    // The only warning: the test's PostgreSQL offers no TLS (sslmode prefer says so).
    assertThat(validate.out())
        .contains("ACL user cs may run every command")
        .doesNotContain("warn  redis")
        .doesNotContainPattern("warn  postgres: (?!the connection is not encrypted)");
  }

  @Test
  @Order(2)
  void workflow_withOnlyTheGrantedRights_keepsRedisExact() throws Exception {
    redisServer.command("ACL", "LOG", "RESET");
    daemon.start();
    daemon.awaitLog("Streaming from replication slot", WAIT);
    awaitRedisHoldsTheRows("initial load");

    postgres.execute(
        database,
        "INSERT INTO users VALUES (21, 'new', NULL), (22, 'newer', 'n@example.org')",
        "UPDATE users SET name = 'renamed' WHERE id = 2",
        "UPDATE users SET email = NULL WHERE id = 3",
        "DELETE FROM users WHERE id IN (4, 5)",
        "INSERT INTO \"OrderLines\" VALUES (9, 0, 'added', 1)",
        "UPDATE \"OrderLines\" SET qty = 100 WHERE order_id = 1",
        "DELETE FROM \"OrderLines\" WHERE order_id = 2");
    awaitRedisHoldsTheRows("inserts, updates and deletes");

    postgres.execute(
        database,
        "TRUNCATE \"OrderLines\"",
        "INSERT INTO \"OrderLines\" VALUES (1, 1, 'after truncate', 2)");
    awaitRedisHoldsTheRows("TRUNCATE");

    CommandRun resync =
        CommandRun.of("resync", "--config", config.toString(), "--quiet", "--timeout", "2m");
    assertThat(resync.exitCode()).as(resync.output()).isEqualTo(ExitCode.OK);
    assertThat(resync.output()).contains("resync done");
    awaitRedisHoldsTheRows("resync");

    redis.redis().del("user:1");
    redis.redis().hset("user:2", "name", "drifted");
    redis.redis().hset("user:999", Map.of("id", "999", "__v", "0".repeat(32)));
    CommandRun drift = CommandRun.of("verify", "--config", config.toString());
    assertThat(drift.exitCode()).as(drift.output()).isEqualTo(ExitCode.DRIFT);
    CommandRun repair = CommandRun.of("verify", "--config", config.toString(), "--repair");
    assertThat(repair.exitCode()).as(repair.output()).isEqualTo(ExitCode.OK);
    assertRedisHoldsTheRows("verify --repair");

    AtomicReference<CommandRun> status = new AtomicReference<>();
    await("status exits 0")
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              status.set(CommandRun.of("status", "--config", config.toString()));
              return status.get().exitCode() == ExitCode.OK;
            });
    assertThat(status.get().out()).contains("pending   nothing");

    CommandRun validate = validate();
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(ExitCode.OK);

    assertThat(daemon.terminate(Duration.ofSeconds(60))).as(daemon.tail()).isZero();
    // Everything Redis refused the user: only CONFIG GET, which is not granted on purpose (it
    // would reveal requirepass), and without which the writer assumes the default value limit.
    assertThat(daemon.log()).doesNotContain("permission denied");
    assertThat(daemon.log().lines().filter(line -> line.contains("NOPERM")))
        .allMatch(line -> line.contains("'config|get'"));
    assertThat(aclRefusals()).isNotEmpty().containsOnly("command config|get");
  }

  @Test
  @Order(3)
  void eachPostgresRightTakenAway_validateNamesIt() {
    Map<String, String> cases = new LinkedHashMap<>();
    Pattern grant = Pattern.compile("^GRANT (.+) ON (DATABASE|SCHEMA|TABLE) (.+) TO (.+);$");
    for (String line : sql.lines().toList()) {
      Matcher matcher = grant.matcher(line);
      if (!matcher.matches()) {
        continue;
      }
      for (String privilege : matcher.group(1).split(", ")) {
        String revoke =
            "REVOKE "
                + privilege
                + " ON "
                + matcher.group(2)
                + " "
                + matcher.group(3)
                + " FROM "
                + matcher.group(4);
        String object = matcher.group(3).replace("\"", "");
        String kind = matcher.group(2).equals("TABLE") ? "" : matcher.group(2).toLowerCase() + " ";
        cases.put(
            revoke,
            object.startsWith("cachesync.signal_")
                ? "needs INSERT on the signal table " + object
                : "needs " + privilege + " on " + kind + object);
      }
    }
    assertThat(cases).hasSize(1 + 1 + 2 + 1 + 1);
    String signalTable = "\"cachesync\".\"signal_" + name + "\"";
    String publication = "cachesync_" + name;
    cases.put("ALTER ROLE " + quoted(role) + " NOREPLICATION", "may not replicate");
    cases.put(
        "ALTER PUBLICATION " + publication + " DROP TABLE \"public\".\"OrderLines\"",
        "publication " + publication + " lacks public.OrderLines and user");
    cases.put(
        "ALTER PUBLICATION " + publication + " DROP TABLE " + signalTable,
        "publication " + publication + " lacks cachesync.signal_" + name + " and user");
    cases.put(
        "DROP PUBLICATION " + publication,
        "publication " + publication + " does not exist and user");
    cases.put(
        "DROP TABLE " + signalTable,
        "the signal table cachesync.signal_" + name + " does not exist and user");
    cases.put(
        "DROP SCHEMA cachesync CASCADE",
        "the signal table cachesync.signal_" + name + " does not exist and user");

    List<String> missed = new ArrayList<>();
    for (Map.Entry<String, String> taken : cases.entrySet()) {
      postgres.execute(database, taken.getKey());
      CommandRun validate = validate();
      if (validate.exitCode() != ExitCode.INVALID
          || !validate.out().contains(taken.getValue())
          || !validate.out().contains("cachesync grants --postgres")
              && !taken.getKey().contains("NOREPLICATION")) {
        missed.add(
            taken.getKey() + "\n  expected '" + taken.getValue() + "' in:\n" + validate.output());
      }
      postgres.execute(database, "ALTER ROLE " + quoted(role) + " REPLICATION");
      Output psql = psql(sql);
      assertThat(psql.exitCode()).as(psql.err()).isZero();
    }
    assertThat(missed).as("rights taken away that validate did not name").isEmpty();
    CommandRun validate = validate();
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(ExitCode.OK);
  }

  @Test
  @Order(4)
  void eachRedisRightTakenAway_validateNamesIt() throws Exception {
    Output json = cachesync("grants", "--redis", "--json", "--config", config.toString());
    JsonNode arguments = JSON.readTree(json.out()).path("redis").path("arguments");
    List<String> words = new ArrayList<>();
    arguments.forEach(argument -> words.add(argument.asText()));
    List<String> rights = words.subList(3, words.size());
    List<String> keyPatterns = rights.stream().filter(r -> r.startsWith("~")).toList();
    assertThat(keyPatterns).hasSize(3);

    List<String> missed = new ArrayList<>();
    for (String right : rights) {
      List<String> take = new ArrayList<>(List.of("ACL", "SETUSER", REDIS_USER));
      String expected;
      int exitCode = ExitCode.INVALID;
      switch (right.charAt(0)) {
        case '+' -> {
          String command = right.substring(1);
          take.add("-" + command);
          expected = "ACL user cs lacks " + command.replace('|', ' ').toUpperCase();
          if (command.equals("publish")) {
            exitCode = ExitCode.OK; // the fence's notifications only: a warning
          }
        }
        case '~' -> {
          take.add("resetkeys");
          keyPatterns.stream().filter(p -> !p.equals(right)).forEach(take::add);
          expected = "ACL user cs may not write keys matching " + right.substring(1);
        }
        case '&' -> {
          take.add("resetchannels");
          expected = "ACL user cs may not publish to " + right.substring(1);
          exitCode = ExitCode.OK;
        }
        default -> throw new AssertionError("unexpected right " + right);
      }
      assertThat(redisServer.command(take.toArray(String[]::new))).isEqualTo("+OK");
      CommandRun validate = validate();
      if (validate.exitCode() != exitCode
          || !validate.out().contains(expected)
          || !validate.out().contains("cachesync grants --redis")) {
        missed.add(right + ": expected '" + expected + "' in:\n" + validate.output());
      }
      assertThat(redisServer.command("ACL", "SETUSER", REDIS_USER, right)).isEqualTo("+OK");
    }
    assertThat(missed).as("rights taken away that validate did not name").isEmpty();
    // Without DEL the probes could not delete their throwaway keys; with every right they do.
    String throwaway = "cachesync:" + name + ":preflight*";
    redis.keys(throwaway).forEach(key -> redis.redis().del(key));
    CommandRun validate = validate();
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(ExitCode.OK);
    assertThat(redis.keys(throwaway)).as("the probes' throwaway keys").isEmpty();
  }

  /** {@code validate}, with the stack trace of an unexpected error. */
  private CommandRun validate() {
    return CommandRun.of("validate", "--config", config.toString(), "--verbose");
  }

  /** The rows of both tables as cachesync caches them, by key. */
  private Map<String, Map<String, String>> expectedRows() throws SQLException {
    Map<String, Map<String, String>> rows = new TreeMap<>();
    try (Connection connection = postgres.connect(database);
        Statement statement = connection.createStatement()) {
      try (ResultSet row = statement.executeQuery("SELECT id, name, email FROM users")) {
        while (row.next()) {
          Map<String, String> fields = new TreeMap<>();
          fields.put("id", row.getString(1));
          fields.put("name", row.getString(2));
          if (row.getString(3) != null) {
            fields.put("email", row.getString(3));
          }
          rows.put("user:" + row.getString(1), fields);
        }
      }
      try (ResultSet row =
          statement.executeQuery("SELECT order_id, line, sku, qty FROM \"OrderLines\"")) {
        while (row.next()) {
          Map<String, String> fields = new TreeMap<>();
          fields.put("order_id", row.getString(1));
          fields.put("line", row.getString(2));
          fields.put("sku", row.getString(3));
          fields.put("qty", row.getString(4));
          rows.put("ol[*]:" + row.getString(1) + ":" + row.getString(2), fields);
        }
      }
    }
    return rows;
  }

  /** What Redis holds under both tables' prefixes, without cachesync's metadata. */
  private Map<String, Map<String, String>> cachedRows() throws IOException {
    Map<String, Map<String, String>> rows = new TreeMap<>();
    for (String key : redis.keys("user:*")) {
      rows.put(key, redis.hash(key));
    }
    for (String key : redis.keys("ol\\[\\*\\]:*")) {
      String value = redis.redis().get(key);
      if (value == null) {
        continue; // deleted since KEYS
      }
      Map<String, String> fields = new TreeMap<>();
      JSON.readTree(value)
          .fields()
          .forEachRemaining(
              member -> {
                if (!member.getKey().startsWith("__")) {
                  fields.put(member.getKey(), member.getValue().asText());
                }
              });
      rows.put(key, fields);
    }
    return rows;
  }

  private void awaitRedisHoldsTheRows(String after) {
    await("Redis holds exactly the rows after " + after)
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(200))
        .failFast("the daemon exited:\n" + daemon.tail(), () -> !daemon.alive())
        .untilAsserted(() -> assertRedisHoldsTheRows(after));
  }

  private void assertRedisHoldsTheRows(String after) throws Exception {
    assertThat(cachedRows()).as("Redis after " + after).isEqualTo(expectedRows());
  }

  /** Each refusal in Redis's ACL log of the user, as "reason object". */
  private List<String> aclRefusals() {
    List<Object> log =
        redis
            .redis()
            .dispatch(
                CommandType.ACL,
                new NestedMultiOutput<>(StringCodec.UTF8),
                new CommandArgs<>(StringCodec.UTF8).add("LOG"));
    List<String> refusals = new ArrayList<>();
    for (Object entry : log) {
      List<?> fields = (List<?>) entry;
      Map<String, Object> byName = new TreeMap<>();
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        byName.put(String.valueOf(fields.get(i)), fields.get(i + 1));
      }
      if (REDIS_USER.equals(byName.get("username"))) {
        refusals.add(byName.get("reason") + " " + byName.get("object"));
      }
    }
    return refusals;
  }

  private static String quoted(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }

  /** What a child process printed, and how it ended. */
  private record Output(int exitCode, String out, String err) {}

  /** The distribution's jar as operators run it. */
  private static Output cachesync(String... arguments) throws Exception {
    List<String> command = new ArrayList<>(List.of("java", "-Xmx128m", "-jar", JAR.toString()));
    command.addAll(List.of(arguments));
    return run(command, "");
  }

  private Output psql(String script) {
    try {
      return run(
          List.of(
              "psql",
              "-X",
              "-q",
              "-v",
              "ON_ERROR_STOP=1",
              "-h",
              postgres.host(),
              "-p",
              Integer.toString(postgres.port()),
              "-U",
              PostgresServer.SUPERUSER,
              "-d",
              database),
          script);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private Output redisCli(String input) throws Exception {
    return run(
        List.of("redis-cli", "-h", "127.0.0.1", "-p", Integer.toString(redisServer.port())), input);
  }

  private static Output run(List<String> command, String input) throws Exception {
    Path out = Files.createTempFile("cachesync-least-out-", ".txt");
    Path err = Files.createTempFile("cachesync-least-err-", ".txt");
    try {
      Process process =
          new ProcessBuilder(command)
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
      process.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
      process.getOutputStream().close();
      if (!process.waitFor(120, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(command + " did not finish within 120 s");
      }
      return new Output(process.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
