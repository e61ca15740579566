package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisCluster.Node;
import io.cachesync.testing.RedisTls;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestCertificates;
import io.cachesync.testing.TestServers;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The daemon and its commands over {@code rediss-cluster://}: a Redis Cluster of 3 masters that
 * speaks only TLS ({@code --port 0}), between its nodes too, and requires a client certificate
 * ({@code tls-auth-clients yes}). {@code validate} passes; the initial load and streamed inserts,
 * updates, deletes and a TRUNCATE land on the master serving each key's slot; {@code verify} finds
 * and repairs drift and {@code status} reads the daemon's state. A CA that did not issue the nodes'
 * certificates, or a missing client certificate, fails with the one-line message a single TLS Redis
 * gives, without a stack trace; certificates that name the nodes as {@code redis.uri} does but not
 * at the address the cluster announces are refused naming that address. As nothing listens in plain
 * text, whatever reaches Redis went over TLS, checking certificates and host names ({@code verify:
 * full}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTlsIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n"
          + "  - table: public.users\n"
          + "    key: \"user:{id}\"\n"
          + "  - table: public.orders\n"
          + "    key: \"order:{id}\"\n"
          + "    format: json\n";
  private static final int ROWS = 200;

  private RedisTls tls;
  private RedisCluster cluster;
  private SyncHarness harness;
  private Path config;
  private RedisClusterClient client;
  private StatefulRedisClusterConnection<String, String> connection;
  private RedisAdvancedClusterCommands<String, String> redis;

  @BeforeAll
  void setUp() {
    tls = RedisTls.create("yes");
    cluster = TestServers.redisClusterTls(3, 0, tls);
    harness = new SyncHarness("clustertls");
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g",
        "INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, " + ROWS + ") g");
    config = harness.configWithRedis("tls", redisSection(tls.caFile(), true), MAPPING);
    client =
        RedisClusterClient.create(
            cluster.seeds().stream()
                .map(
                    seed -> {
                      RedisURI uri = RedisURI.create("rediss://" + seed);
                      uri.setVerifyPeer(SslVerifyMode.FULL);
                      return uri;
                    })
                .toList());
    client.setOptions(ClusterClientOptions.builder().sslOptions(tls.sslOptions()).build());
    connection = client.connect();
    redis = connection.sync();
  }

  @AfterAll
  void tearDown() {
    if (harness != null) {
      harness.stopDaemon();
    }
    if (connection != null) {
      connection.close();
    }
    if (client != null) {
      client.shutdown();
    }
    if (cluster != null) {
      cluster.close();
    }
    if (harness != null) {
      harness.close();
    }
  }

  private String redisSection(Path caFile, boolean clientCertificate) {
    StringBuilder section =
        new StringBuilder("uri: ")
            .append(cluster.uri())
            .append("\ntls:\n  caFile: ")
            .append(caFile)
            .append('\n');
    if (clientCertificate) {
      section
          .append("  certFile: ")
          .append(tls.client().certificate())
          .append("\n  keyFile: ")
          .append(tls.client().key())
          .append('\n');
    }
    return section.toString();
  }

  @Test
  @Order(1)
  void validate_redissCluster_checksEveryMasterOverTls() {
    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    String transport =
        "TLS to every node of the cluster, verify full (CA in "
            + tls.caFile()
            + " and host name), client certificate "
            + tls.client().certificate();
    assertThat(run.out())
        .contains("  redis " + cluster.uri() + ", " + transport + "\n")
        .endsWith("preflight passed\n");
  }

  @Test
  @Order(2)
  void run_redissCluster_loadsAndStreamsToTheMasterOfEachKey() throws Exception {
    harness.startWith(config);
    harness.daemon().initialLoad().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    awaitUsers(ids(1, ROWS), "user ");
    assertEachMasterHoldsTheKeysOfItsSlots("user:*", ids(1, ROWS), "user:");

    harness.sql(
        "INSERT INTO users VALUES (" + (ROWS + 1) + ", 'new')",
        "UPDATE users SET name = 'renamed ' || id WHERE id <= 50",
        "DELETE FROM users WHERE id > 150 AND id <= " + ROWS,
        "DELETE FROM orders WHERE id % 2 = 0",
        "UPDATE orders SET total = 9.99 WHERE id = 3");

    Set<Integer> users = new HashSet<>(ids(1, 150));
    users.add(ROWS + 1);
    await("the changes on every master")
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(redis.hget("user:" + (ROWS + 1), "name")).isEqualTo("new");
              assertThat(redis.hget("user:7", "name")).isEqualTo("renamed 7");
              assertThat(redis.hget("user:77", "name")).isEqualTo("user 77");
              assertThat(redis.keys("user:*")).hasSize(users.size());
              assertThat(redis.keys("order:*")).hasSize(ROWS / 2);
              assertThat(redis.get("order:3")).contains("\"total\":\"9.99\"");
            });
    assertEachMasterHoldsTheKeysOfItsSlots("user:*", users, "user:");
    assertEachMasterHoldsTheKeysOfItsSlots(
        "order:*",
        ids(1, ROWS).stream().filter(id -> id % 2 == 1).collect(Collectors.toSet()),
        "order:");
    // Each master listens on its TLS port only, and the writer's connections reach every one.
    for (Node master : cluster.masters()) {
      RedisClusterCommands<String, String> node = node(master);
      assertThat(node.configGet("port", "tls-port", "tls-cluster", "tls-auth-clients"))
          .containsEntry("port", "0")
          .containsEntry("tls-port", Integer.toString(master.port()))
          .containsEntry("tls-cluster", "yes")
          .containsEntry("tls-auth-clients", "yes");
      String clients = node.clientList();
      assertThat(clients).as("clients of %s", master.address()).contains("name=cachesync-writer-");
      assertThat(clients.lines())
          .allSatisfy(client -> assertThat(client).contains(" laddr=" + master.address() + " "));
    }

    harness.sql("TRUNCATE orders");
    await("the TRUNCATE on every master")
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(redis.keys("order:*")).isEmpty());
    assertThat(redis.keys("user:*")).hasSize(users.size());
  }

  @Test
  @Order(3)
  void verify_redissCluster_findsAndRepairsDrift() {
    int staleId = 120;
    redis.hset("user:" + staleId, "name", "stale");

    CommandRun found = CommandRun.of("verify", "--config", config.toString());
    CommandRun repaired = CommandRun.of("verify", "--config", config.toString(), "--repair");

    assertThat(found.exitCode()).as(found.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(found.out()).contains("1 stale");
    assertThat(repaired.exitCode()).as(repaired.output()).isEqualTo(ExitCode.OK);
    assertThat(repaired.out()).contains("after repair:").endsWith("consistent\n");
    assertThat(redis.hget("user:" + staleId, "name")).isEqualTo("user " + staleId);
  }

  @Test
  @Order(4)
  void status_redissCluster_readsTheDaemonsState() {
    CommandRun run =
        await("status to settle")
            .atMost(WAIT)
            .until(
                () -> CommandRun.of("status", "--config", config.toString()),
                status -> status.exitCode() == ExitCode.OK);

    assertThat(run.out()).startsWith("cachesync it: OK").contains(cluster.uri());
  }

  @Test
  @Order(5)
  void everyCommand_caThatDidNotIssueTheNodesCertificates_saysSoInOneLine() {
    TestCertificates.Authority stranger = TestCertificates.authority("a stranger CA");
    Path wrongCa =
        harness.configWithRedis("wrong-ca", redisSection(stranger.certificate(), true), MAPPING);
    String message =
        ": its TLS certificate (CN=127.0.0.1, issued by CN=cachesync test Redis CA) is not issued"
            + " by a CA in redis.tls.caFile ("
            + stranger.certificate()
            + "); point redis.tls.caFile at the PEM certificate of the CA that issued it";

    for (String command : List.of("validate", "verify", "status")) {
      CommandRun run = CommandRun.of(command, "--config", wrongCa.toString());

      assertThat(run.exitCode()).as(command + ":\n" + run.output()).isEqualTo(ExitCode.UNREACHABLE);
      assertThat(run.output()).as(command).contains(message).doesNotContain("\tat ");
      assertNamesANode(run.output(), message);
    }
    // The command line's log too, and `run` stops at once rather than waiting.
    try (DaemonProcess validate =
            DaemonProcess.command(List.of(), "validate", "--config", wrongCa.toString()).start();
        DaemonProcess run = new DaemonProcess(wrongCa).start()) {
      assertThat(validate.awaitExit(WAIT)).as(validate.log()).isEqualTo(ExitCode.UNREACHABLE);
      assertThat(run.awaitExit(WAIT)).as(run.log()).isEqualTo(ExitCode.UNREACHABLE);
      for (DaemonProcess process : List.of(validate, run)) {
        assertThat(process.log()).contains(message).doesNotContain("trying again");
        assertNoStackTrace(process.log());
      }
    }
  }

  @Test
  @Order(6)
  void validate_noClientCertificate_saysTheNodesRequireOne() {
    Path noCertificate =
        harness.configWithRedis("no-client-cert", redisSection(tls.caFile(), false), MAPPING);
    String message =
        " requires a client certificate (TLS alert certificate_required); set redis.tls.certFile"
            + " and redis.tls.keyFile to a certificate issued by a CA the server trusts (its"
            + " tls-ca-cert-file)";

    CommandRun run = CommandRun.of("validate", "--config", noCertificate.toString());
    try (DaemonProcess validate =
        DaemonProcess.command(List.of(), "validate", "--config", noCertificate.toString())
            .start()) {

      assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.UNREACHABLE);
      assertThat(run.output()).contains(message).doesNotContain("\tat ");
      assertNamesANode(run.output(), message);
      assertThat(validate.awaitExit(WAIT)).as(validate.log()).isEqualTo(ExitCode.UNREACHABLE);
      assertThat(validate.log()).contains(message);
      assertNoStackTrace(validate.log());
    }
  }

  /**
   * Nodes named in {@code redis.uri} by a name their certificates hold ({@code localhost}), that
   * announce themselves at an address the certificates do not hold ({@code 127.0.0.1}): the cluster
   * client reaches the nodes at the address the cluster gives, so {@code verify: full} refuses each
   * master, saying which address the certificates must name; {@code verify: ca} connects.
   */
  @Test
  @Order(7)
  void validate_certificatesNameTheSeedsButNotTheAnnouncedAddress_saysWhichAddressToName() {
    RedisTls localhostOnly = tls.withServerNames("localhost-only", "localhost");
    try (RedisCluster other = TestServers.redisClusterTls(3, 0, localhostOnly)) {
      String uri =
          "rediss-cluster://"
              + other.seeds().stream()
                  .map(seed -> seed.replace("127.0.0.1", "localhost"))
                  .collect(Collectors.joining(","));
      String tlsSection =
          "tls:\n  caFile: "
              + tls.caFile()
              + "\n  certFile: "
              + tls.client().certificate()
              + "\n  keyFile: "
              + tls.client().key()
              + "\n";
      Path full = harness.configWithRedis("announced", "uri: " + uri + "\n" + tlsSection, MAPPING);
      Path ca =
          harness.configWithRedis(
              "announced-ca", "uri: " + uri + "\n" + tlsSection + "  verify: ca\n", MAPPING);

      CommandRun refused = CommandRun.of("validate", "--config", full.toString());
      CommandRun passed = CommandRun.of("validate", "--config", ca.toString());

      assertThat(refused.exitCode()).as(refused.output()).isEqualTo(ExitCode.INVALID);
      for (Node master : other.masters()) {
        assertThat(refused.out())
            .as(refused.output())
            .contains(
                "  FAIL  redis: master "
                    + master.address()
                    + ": not checked: Redis at "
                    + master.address()
                    + ": its TLS certificate names localhost, not 127.0.0.1 (No subject"
                    + " alternative names matching IP address 127.0.0.1 found); make the address"
                    + " the cluster gives for the node (the one CLUSTER NODES shows, set by"
                    + " cluster-announce-ip on the node) one of the certificate's names");
      }
      assertThat(passed.exitCode()).as(passed.output()).isEqualTo(ExitCode.OK);
      assertThat(passed.out()).contains("verify ca (CA in " + tls.caFile() + ", any host name)");
    }
  }

  /**
   * No stack trace in a command's log. Lettuce logs a line for each node it cannot reach while it
   * reads the topology, which names the cause (an exception's class among it); the trace of none.
   */
  private static void assertNoStackTrace(String log) {
    assertThat(log).doesNotContain("\tat ").doesNotContain("Caused by");
    assertThat(log.lines().filter(line -> line.contains("Exception")))
        .allMatch(
            line -> line.contains(" WARN  [it] DefaultClusterTopologyRefresh: Unable to connect"));
  }

  /** {@code output} names one of the cluster's nodes as the server whose TLS failed. */
  private void assertNamesANode(String output, String message) {
    assertThat(cluster.seeds())
        .as(output)
        .anyMatch(seed -> output.contains("Redis at " + seed + message));
  }

  private RedisClusterCommands<String, String> node(Node master) {
    return connection.getConnection("127.0.0.1", master.port()).sync();
  }

  /**
   * Each master holds exactly the keys ({@code prefix} and an id of {@code ids}) whose slot it
   * serves, read on the master itself; and each master holds some.
   */
  private void assertEachMasterHoldsTheKeysOfItsSlots(
      String pattern, Set<Integer> ids, String prefix) {
    List<Node> masters = cluster.masters();
    assertThat(masters).hasSize(3);
    for (Node master : masters) {
      Set<String> expected =
          ids.stream()
              .map(id -> prefix + id)
              .filter(key -> master.owns(SlotHash.getSlot(key)))
              .collect(Collectors.toSet());
      assertThat(expected).as("keys of the master on %s", master.port()).isNotEmpty();
      assertThat(new HashSet<>(node(master).keys(pattern)))
          .as("keys %s on the master on %s", pattern, master.port())
          .isEqualTo(expected);
    }
  }

  private void awaitUsers(Set<Integer> ids, String namePrefix) {
    await("users with names " + namePrefix + "...")
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              for (int id : ids) {
                assertThat(redis.hget("user:" + id, "name"))
                    .as("user:" + id)
                    .isEqualTo(namePrefix + id);
              }
            });
  }

  private static Set<Integer> ids(int first, int last) {
    return IntStream.rangeClosed(first, last).boxed().collect(Collectors.toSet());
  }
}
