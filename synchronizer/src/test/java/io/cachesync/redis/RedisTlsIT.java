package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.RedisTls;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestCertificates;
import io.cachesync.testing.TestServers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The daemon and every command over TLS to a Redis that has no plain-text port ({@code --port 0}),
 * checking the server's certificate and host name: streaming, {@code resync}, {@code verify
 * --repair}, {@code status} and {@code validate}; then mutual TLS. The failures a TLS setup can
 * have are in {@link RedisTlsFailuresIT}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RedisTlsIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";
  private static final String ROWS = "SELECT id, name FROM users";

  private RedisTls tls;
  private SyncHarness harness;
  private Path config;
  private DaemonProcess daemon;

  @BeforeAll
  void setUp() {
    tls = RedisTls.create("no");
    harness = new SyncHarness(TestServers.sharedPostgres(), "redistls", TestServers.redisTls(tls));
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 20) AS i");
    // caFile relative to synchronizer.yml, as an operator would keep it next to it.
    config =
        harness.configWithRedis(
            "tls",
            "uri: " + harness.redisServer.uri() + "\ntls:\n  caFile: certs/ca.crt\n",
            MAPPING);
    copy(tls.caFile(), config.resolveSibling("certs/ca.crt"));
  }

  @AfterAll
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    if (harness != null) {
      harness.close();
    }
  }

  @Test
  @Order(1)
  void validate_tls_saysTheConnectionIsTlsAndHowItIsVerified() {
    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    String transport =
        "TLS, verify full (CA in " + config.resolveSibling("certs/ca.crt") + " and host name)";
    assertThat(run.out())
        .contains("  redis " + harness.redisServer.uri() + ", " + transport + "\n")
        .contains("  ok    redis: connected with " + transport + "\n")
        .contains("is the master")
        .endsWith("preflight passed\n");
  }

  @Test
  @Order(2)
  void run_tls_streamsInsertsUpdatesAndDeletes() throws Exception {
    daemon = new DaemonProcess(config).start();
    awaitRedisMatchesTable();

    harness.sql(
        "INSERT INTO users VALUES (21, 'new 21'), (22, 'new 22')",
        "UPDATE users SET name = 'renamed' WHERE id <= 5",
        "DELETE FROM users WHERE id BETWEEN 10 AND 12");

    awaitRedisMatchesTable();
    assertThat(daemon.log())
        .contains(
            "RunCommand: Redis connections: TLS, verify full (CA in "
                + config.resolveSibling("certs/ca.crt")
                + " and host name)");
    assertThat(harness.redis.hash("user:1")).containsEntry("name", "renamed");
    assertThat(harness.redis.keys("user:1?")).doesNotContain("user:10", "user:11", "user:12");
    assertThat(daemon.log()).doesNotContain("\tat ").doesNotContain("Exception");
  }

  @Test
  @Order(3)
  void run_tls_everyConnectionOfTheDaemonIsTls() {
    assertEveryConnectionIsTls(harness.redisServer, tls);
    List<String> clients = clients(harness.redisServer);
    assertThat(clients)
        .as("the writer's connections, on the TLS port")
        .anySatisfy(client -> assertThat(client).contains("name=cachesync-writer-"));
  }

  @Test
  @Order(4)
  void resync_tls_reloadsWhatRedisLost() {
    harness.redis.redis().del("user:3", "user:4");
    harness.redis.redis().set("user:999", "orphan");

    CommandRun run = CommandRun.of("resync", "--config", config.toString(), "--quiet");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).contains("resync done").contains("orphan keys removed");
    awaitRedisMatchesTable();
    assertThat(harness.redis.redis().exists("user:999")).isZero();
  }

  @Test
  @Order(5)
  void verifyRepair_tls_findsAndRepairsDrift() {
    harness.redis.redis().hset("user:2", "name", "stale");

    CommandRun found = CommandRun.of("verify", "--config", config.toString());
    CommandRun repaired = CommandRun.of("verify", "--config", config.toString(), "--repair");

    assertThat(found.exitCode()).as(found.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(found.out()).contains("1 stale");
    assertThat(repaired.exitCode()).as(repaired.output()).isEqualTo(ExitCode.OK);
    assertThat(repaired.out()).contains("after repair:").endsWith("consistent\n");
    assertThat(harness.redis.hash("user:2")).containsEntry("name", "renamed");
  }

  @Test
  @Order(6)
  void status_tls_readsTheDaemonsState() {
    CommandRun run =
        await("status to settle")
            .atMost(WAIT)
            .until(
                () -> CommandRun.of("status", "--config", config.toString()),
                status -> status.exitCode() == ExitCode.OK);

    assertThat(run.out())
        .startsWith("cachesync it: OK")
        .contains(harness.redisServer.uri() + ", ")
        .contains("keys");
    // Every command's connections were TLS too: there is no other port.
    assertEveryConnectionIsTls(harness.redisServer, tls);
  }

  @Test
  @Order(7)
  void run_caFileWrongWhileRunning_keepsTryingSayingWhyAndResumesOnceFixed() throws Exception {
    Path caFile = config.resolveSibling("certs/ca.crt");
    copy(TestCertificates.authority("a stranger CA").certificate(), caFile);
    int before = daemon.count("redis.tls.caFile");
    harness.redis.redis().clientKill(io.lettuce.core.KillArgs.Builder.typeNormal());
    harness.sql("UPDATE users SET name = 'while the CA was wrong' WHERE id = 1");

    await("the daemon to say what is wrong")
        .atMost(WAIT)
        .failFast("the daemon exited:\n" + daemon.tail(), () -> !daemon.alive())
        .until(() -> daemon.count("redis.tls.caFile") > before);
    copy(tls.caFile(), caFile);

    awaitRedisMatchesTable();
    assertThat(harness.redis.hash("user:1")).containsEntry("name", "while the CA was wrong");
    assertThat(daemon.alive()).isTrue();
    // No stack trace, but for Debezium's own warning when an offset flush meets Redis
    // disconnected (it flushes again a second later): its engine logs that with a trace.
    assertThat(eventsWithATrace(daemon.log()))
        .allMatch(event -> event.contains("AsyncEmbeddedEngine: Flush of the offsets failed"));
    System.out.println(
        "RedisTlsIT: with a wrong caFile the daemon logged:\n"
            + daemon
                .log()
                .lines()
                .filter(l -> l.contains("redis.tls.caFile"))
                .findFirst()
                .orElse(""));
  }

  /** The log's events (a line with a time stamp and what follows it) that hold a stack trace. */
  private static java.util.List<String> eventsWithATrace(String log) {
    java.util.List<String> events = new java.util.ArrayList<>();
    StringBuilder event = new StringBuilder();
    for (String line : log.lines().toList()) {
      if (line.matches("^\\d{4}-\\d{2}-\\d{2}T.*") && event.length() > 0) {
        events.add(event.toString());
        event.setLength(0);
      }
      event.append(line).append('\n');
    }
    events.add(event.toString());
    return events.stream().filter(e -> e.contains("\tat ")).toList();
  }

  @Test
  @Order(8)
  void run_mutualTls_streamsWithTheClientCertificate() throws Exception {
    // The replication slot's name is the same for every test daemon: the first one goes first.
    assertThat(daemon.terminate(WAIT)).isZero();
    daemon.close();
    daemon = null;
    harness.close();
    harness = null;
    RedisTls mutual = RedisTls.create("yes");
    try (SyncHarness mtls =
        new SyncHarness(TestServers.sharedPostgres(), "redismtls", TestServers.redisTls(mutual))) {
      mtls.sql(
          "CREATE TABLE users (id int PRIMARY KEY, name text)",
          "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 5) AS i");
      Path mutualConfig =
          mtls.configWithRedis(
              "mtls",
              "uri: "
                  + mtls.redisServer.uri()
                  + "\ntls:\n  caFile: "
                  + mutual.caFile()
                  + "\n  certFile: "
                  + mutual.client().certificate()
                  + "\n  keyFile: "
                  + mutual.client().key()
                  + "\n",
              MAPPING);

      CommandRun validate = CommandRun.of("validate", "--config", mutualConfig.toString());
      assertThat(validate.exitCode()).as(validate.output()).isEqualTo(ExitCode.OK);
      assertThat(validate.out())
          .contains(", client certificate " + mutual.client().certificate() + "\n");

      try (DaemonProcess mutualDaemon = new DaemonProcess(mutualConfig).start()) {
        awaitMatches(mtls, mutualDaemon);
        mtls.sql("UPDATE users SET name = 'over mutual TLS' WHERE id = 1");
        awaitMatches(mtls, mutualDaemon);
        assertEveryConnectionIsTls(mtls.redisServer, mutual);
        assertThat(clients(mtls.redisServer))
            .anySatisfy(client -> assertThat(client).contains("name=cachesync-writer-"));
        assertThat(mutualDaemon.terminate(WAIT)).isZero();
      }
    }
  }

  /**
   * The server listens on its TLS port only ({@code port} is 0), so each client in CLIENT LIST (its
   * {@code laddr}) came in over TLS; a plain-text client gets no answer there.
   */
  static void assertEveryConnectionIsTls(RedisServer server, RedisTls tls) {
    try (RedisProbe probe = new RedisProbe(server)) {
      assertThat(probe.redis().configGet("port")).containsEntry("port", "0");
      assertThat(probe.redis().configGet("tls-port"))
          .containsEntry("tls-port", Integer.toString(server.port()));
    }
    List<String> clients = clients(server);
    assertThat(clients)
        .isNotEmpty()
        .allSatisfy(
            client ->
                assertThat(client).contains(" laddr=" + server.host() + ":" + server.port() + " "));
    assertThat(plainTextReply(server)).as("a plain-text PING on the TLS port").isEmpty();
  }

  /** The first line a plain-text PING gets, or empty when the connection ends without one. */
  static java.util.Optional<String> plainTextReply(RedisServer server) {
    return plainTextReply(server.host(), server.port());
  }

  /** As {@link #plainTextReply(RedisServer)}, for any port (a Sentinel's). */
  static java.util.Optional<String> plainTextReply(String host, int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), 2_000);
      socket.setSoTimeout(2_000);
      socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      String line =
          new BufferedReader(
                  new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII))
              .readLine();
      return java.util.Optional.ofNullable(line);
    } catch (IOException e) {
      return java.util.Optional.empty();
    }
  }

  static List<String> clients(RedisServer server) {
    try (RedisProbe probe = new RedisProbe(server)) {
      return probe.redis().clientList().lines().toList();
    }
  }

  private void awaitRedisMatchesTable() {
    awaitMatches(harness, daemon);
  }

  private static void awaitMatches(SyncHarness harness, DaemonProcess daemon) {
    try {
      await("Redis to equal the table")
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(200))
          .failFast("the daemon exited", () -> daemon != null && !daemon.alive())
          .untilAsserted(
              () -> {
                Map<String, Map<String, String>> rows = harness.rowsAsHashes(ROWS, "user:");
                harness.assertRedisHolds("user:*", rows);
              });
    } catch (org.awaitility.core.ConditionTimeoutException
        | org.awaitility.core.TerminalFailureException e) {
      throw new AssertionError(
          e.getMessage() + "\nThe daemon's log:\n" + (daemon == null ? "" : daemon.tail()), e);
    }
  }

  static void copy(Path from, Path to) {
    try {
      Files.createDirectories(to.getParent());
      Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static TestCertificates.Authority otherAuthority() {
    return TestCertificates.authority("another CA");
  }
}
