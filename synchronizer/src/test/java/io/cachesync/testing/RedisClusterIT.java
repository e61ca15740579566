package io.cachesync.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.testing.RedisCluster.Node;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.resource.ClientResources;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Redis Cluster fixture: each change of topology it offers ends in a cluster that serves every
 * key it should hold, each on the master that owns the key's slot and on that master's replicas.
 * One cluster (3 masters, 1 replica each) serves the whole class; each test starts from 3 masters
 * with one replica each, holding only that test's keys.
 */
class RedisClusterIT {
  private static final int KEYS = 2_000;

  private static RedisCluster cluster;
  private static ClientResources resources;

  /** What this test wrote, by key. */
  private Map<String, String> written;

  /** The port of a master this test killed, brought back after it so that the next test has it. */
  private Integer killedPort;

  @BeforeAll
  static void start() {
    resources = ClientResources.create();
    cluster = TestServers.redisCluster(3, 1);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
    resources.shutdown();
  }

  @AfterEach
  void rejoinKilled() {
    if (killedPort != null) {
      cluster.rejoin(killedPort);
    }
  }

  @BeforeEach
  void writeKeys() {
    List<Node> masters = cluster.masters();
    assertThat(masters).hasSize(3);
    assertThat(cluster.replicas())
        .extracting(replica -> replica.masterId().orElseThrow())
        .containsExactlyInAnyOrderElementsOf(masters.stream().map(Node::id).toList());
    for (Node master : masters) {
      assertThat(cluster.command(master.port(), "FLUSHALL")).isEqualTo("+OK");
    }
    String run = UUID.randomUUID().toString();
    written = new LinkedHashMap<>();
    for (int i = 0; i < KEYS; i++) {
      written.put("key:" + i, "value:" + i + ":" + run);
    }
    assertThat(mset(written)).isEqualTo("OK");
    // The replicas hold every key before the test changes anything.
    cluster.awaitStable();
  }

  @Test
  void start_everyKeyOnTheMasterOwningItsSlotAndOnItsReplica() {
    List<Node> masters = cluster.masters();

    assertThat(masters.stream().mapToInt(Node::slotCount).sum()).isEqualTo(16_384);
    assertThat(seedPorts(cluster.uri()))
        .containsExactlyInAnyOrderElementsOf(
            cluster.nodes().stream()
                .filter(n -> role(n.port()).equals("master"))
                .map(Node::port)
                .toList());
    assertThat(cluster.seeds())
        .containsExactlyInAnyOrderElementsOf(
            seedPorts(cluster.uri()).stream().map(port -> "127.0.0.1:" + port).toList());
    assertThat(differences(written, read())).isEmpty();
    assertKeysWhereTheirSlotsAre(written);
  }

  @Test
  void failover_promotesTheReplica_everyKeyReadableAndWritable() {
    Node master = cluster.masters().get(0);
    Node replica = replicaOf(master);

    Node promoted = cluster.failover(master.port());

    assertThat(promoted.id()).isEqualTo(replica.id());
    assertThat(promoted.master()).isTrue();
    assertThat(promoted.slots()).isEqualTo(master.slots());
    assertThat(role(replica.port())).isEqualTo("master");
    assertThat(cluster.node(master.port()).masterId()).contains(replica.id());
    assertThat(role(master.port())).isEqualTo("slave");
    assertThat(differences(written, read())).isEmpty();
    assertKeysWhereTheirSlotsAre(written);

    Map<String, String> rewritten = new LinkedHashMap<>();
    written.forEach((key, value) -> rewritten.put(key, value + ":after-failover"));
    assertThat(mset(rewritten)).isEqualTo("OK");
    assertThat(differences(rewritten, read())).isEmpty();
  }

  @Test
  void reshard_500Slots_theirKeysMoveWithThem() {
    List<Node> masters = cluster.masters();
    Node from = masters.get(0);
    Node to = masters.get(1);

    cluster.reshard(from.port(), to.port(), 500);

    Node fromAfter = cluster.node(from.port());
    Node toAfter = cluster.node(to.port());
    assertThat(fromAfter.slotCount()).isEqualTo(from.slotCount() - 500);
    assertThat(toAfter.slotCount()).isEqualTo(to.slotCount() + 500);
    long movedSlots =
        java.util.stream.IntStream.range(0, 16_384)
            .filter(slot -> from.owns(slot) && toAfter.owns(slot))
            .count();
    assertThat(movedSlots).isEqualTo(500);
    // Keys of the moved slots exist, so the check below shows they moved.
    assertThat(written.keySet())
        .filteredOn(key -> from.owns(SlotHash.getSlot(key)) && toAfter.owns(SlotHash.getSlot(key)))
        .isNotEmpty();
    assertThat(differences(written, read())).isEmpty();
    assertKeysWhereTheirSlotsAre(written);
  }

  @Test
  void killMaster_promotesTheReplica_everyKeyReadable_thenRejoinsAsItsReplica() {
    Node master = cluster.masters().get(1);
    Node replica = replicaOf(master);

    killedPort = master.port();
    Node promoted = cluster.killMaster(master.port());

    assertThat(promoted.id()).isEqualTo(replica.id());
    assertThat(promoted.slots()).isEqualTo(master.slots());
    assertThat(cluster.node(master.port()).failed()).isTrue();
    assertThat(cluster.seeds())
        .contains("127.0.0.1:" + replica.port())
        .doesNotContain("127.0.0.1:" + master.port());
    assertThat(ping(master.port())).isNotEqualTo("+PONG");
    assertThat(bindable(master.port())).as("the killed node's port is held").isFalse();
    assertThat(bindable(master.port() + 10_000)).as("the killed node's bus port is held").isFalse();
    assertThat(differences(written, read())).isEmpty();
    assertKeysWhereTheirSlotsAre(written);

    killedPort = null;
    Node back = cluster.rejoin(master.port());

    assertThat(back.id()).isEqualTo(master.id());
    assertThat(back.masterId()).contains(replica.id());
    assertThat(back.slots()).isEmpty();
    assertKeysWhereTheirSlotsAre(written);
  }

  @Test
  void restartMasterEmpty_keepsItsIdAndSlots_losesOnlyItsKeys() {
    Node master = cluster.masters().get(2);
    Node replica = replicaOf(master);

    cluster.restartMasterEmpty(master.port());

    Node after = cluster.node(master.port());
    assertThat(after.id()).isEqualTo(master.id());
    assertThat(after.master()).isTrue();
    assertThat(after.slots()).isEqualTo(master.slots());
    assertThat(cluster.node(replica.port()).masterId()).contains(master.id());
    Map<String, String> kept = new LinkedHashMap<>();
    Map<String, String> expected = new HashMap<>();
    written.forEach(
        (key, value) -> {
          boolean lost = master.owns(SlotHash.getSlot(key));
          expected.put(key, lost ? null : value);
          if (!lost) {
            kept.put(key, value);
          }
        });
    assertThat(kept).hasSizeBetween(1, KEYS - 1);
    assertThat(differences(expected, read())).isEmpty();
    assertThat(dbsize(master.port())).isZero();
    assertKeysWhereTheirSlotsAre(kept);
  }

  /**
   * A cluster that speaks only TLS, with client certificates: the fixture forms it, reads it and
   * changes its topology over TLS, and nothing answers in plain text on its ports.
   */
  @Test
  void tls_formsFailsOverAndReshardsOverTlsOnly() {
    RedisTls tls = RedisTls.create("yes");
    try (RedisCluster secure = TestServers.redisClusterTls(3, 1, tls)) {
      List<Node> masters = secure.masters();
      assertThat(secure.uri()).isEqualTo("rediss-cluster://" + String.join(",", secure.seeds()));
      assertThat(masters).hasSize(3);
      assertThat(secure.replicas()).hasSize(3);
      int port = masters.get(0).port();
      assertThat(secure.command(port, "PING")).isEqualTo("+PONG");
      assertThatThrownBy(() -> Resp.command("127.0.0.1", port, "PING"))
          .as("a plain-text PING on a node's port")
          .isInstanceOf(java.io.UncheckedIOException.class);

      Node promoted = secure.failover(port);
      secure.reshard(masters.get(1).port(), masters.get(2).port(), 100);

      assertThat(secure.node(promoted.port()).master()).isTrue();
      assertThat(secure.node(port).masterId()).contains(promoted.id());
      assertThat(secure.node(masters.get(2).port()).slotCount())
          .isEqualTo(masters.get(2).slotCount() + 100);
    }
  }

  @Test
  void startingANode_itsBusPortTakenMeanwhile_failsSoThatAnotherPortIsTried() throws IOException {
    int port = RedisCluster.freePortPair();
    try (ServerSocket foreign = new ServerSocket()) {
      foreign.setReuseAddress(true);
      foreign.bind(new InetSocketAddress("127.0.0.1", port + 10_000));

      assertThatThrownBy(
              () ->
                  LocalRedis.createOn(
                      Path.of("redis-server"), List.of("--cluster-enabled", "yes"), port))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("Redis did not start on port " + port);
    }
    assertThat(bindable(port)).as("the node that did not start left its port").isTrue();
  }

  /**
   * Each master holds exactly the keys of {@code present} in its slots, and so does its replica.
   */
  private static void assertKeysWhereTheirSlotsAre(Map<String, String> present) {
    cluster.awaitStable();
    List<Node> nodes = cluster.nodes().stream().filter(n -> !n.failed()).toList();
    Map<Integer, Long> expected = new HashMap<>();
    Map<Integer, Long> actual = new HashMap<>();
    for (Node node : nodes) {
      Node owner =
          node.master()
              ? node
              : nodes.stream().filter(n -> node.masterId().get().equals(n.id())).findFirst().get();
      expected.put(
          node.port(),
          present.keySet().stream().filter(key -> owner.owns(SlotHash.getSlot(key))).count());
      actual.put(node.port(), dbsize(node.port()));
    }
    assertThat(actual).as("keys per node; nodes: %s", nodes).isEqualTo(expected);
  }

  private static Node replicaOf(Node master) {
    return cluster.replicas().stream()
        .filter(r -> r.masterId().equals(java.util.Optional.of(master.id())))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no replica of " + master));
  }

  private static long dbsize(int port) {
    String reply = cluster.command(port, "DBSIZE");
    assertThat(reply).startsWith(":");
    return Long.parseLong(reply.substring(1));
  }

  /** The node's own answer to ROLE: {@code master} or {@code slave}. */
  private static String role(int port) {
    return withCluster(redis -> redis.getConnection("127.0.0.1", port).role().get(0).toString());
  }

  private static String ping(int port) {
    try {
      return cluster.command(port, "PING");
    } catch (RuntimeException e) {
      return e.toString();
    }
  }

  private static boolean bindable(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress("127.0.0.1", port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static List<Integer> seedPorts(String uri) {
    assertThat(uri).startsWith("redis-cluster://");
    List<Integer> ports = new ArrayList<>();
    for (String seed : uri.substring("redis-cluster://".length()).split(",")) {
      assertThat(seed).startsWith("127.0.0.1:");
      ports.add(Integer.parseInt(seed.substring("127.0.0.1:".length())));
    }
    return ports;
  }

  private static String mset(Map<String, String> values) {
    return withCluster(redis -> redis.mset(values));
  }

  /** Every key of {@code written}, read through a new cluster client: null when absent. */
  private Map<String, String> read() {
    List<KeyValue<String, String>> values =
        withCluster(redis -> redis.mget(written.keySet().toArray(String[]::new)));
    Map<String, String> read = new HashMap<>();
    values.forEach(value -> read.put(value.getKey(), value.getValueOrElse(null)));
    return read;
  }

  /** The keys whose value is not the expected one (null: absent), as "key: expected, found". */
  private static List<String> differences(Map<String, String> expected, Map<String, String> read) {
    return expected.entrySet().stream()
        .filter(
            e ->
                !read.containsKey(e.getKey())
                    || !Objects.equals(read.get(e.getKey()), e.getValue()))
        .map(e -> e.getKey() + ": " + e.getValue() + ", found " + read.get(e.getKey()))
        .limit(20)
        .collect(Collectors.toList());
  }

  /**
   * Runs {@code work} on a new client that learns the topology from {@link RedisCluster#seeds()},
   * so that no earlier view of the cluster plays a part.
   */
  private static <T> T withCluster(
      Function<io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands<String, String>, T>
          work) {
    RedisClusterClient client =
        RedisClusterClient.create(
            resources,
            cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
    try (StatefulRedisClusterConnection<String, String> connection = client.connect()) {
      return work.apply(connection.sync());
    } finally {
      client.shutdown();
    }
  }
}
