package io.cachesync.preflight;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.config.PostgresSettings;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.grants.RedisAclGrant;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.RedisRights;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisCluster.Node;
import io.cachesync.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.resource.ClientResources;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Redis preflight on a real Redis Cluster (3 masters, a replica each, one cluster for the
 * class): it checks the cluster's slots and state, then every master on its own (ACL users, script
 * caches, INFO and configuration are per node), naming the master a problem is on. Each test makes
 * its own Redis user on every node, and puts back what it changed in the cluster.
 */
class ClusterPreflightIT {
  private static final String PASSWORD = "Cluster-pw-5";

  private static RedisCluster cluster;
  private static ClientResources resources;

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

  @Test
  void run_healthyCluster_passesAfterTryingTheScriptsOnEveryMasterAndLeavesNoKey()
      throws Exception {
    createUser("everything", "+@all", "~*", "&*");
    List<Node> masters = cluster.masters();
    masters.forEach(master -> expectOk(master.port(), "SCRIPT", "FLUSH"));

    List<Finding> findings =
        run(
            "everything",
            List.of(
                table("public.users", "user:{id}"), table("public.sessions", "{{sessions}}:{id}")));

    assertThat(findings).as("%s", findings).noneMatch(Finding::failed);
    assertThat(findings)
        .anyMatch(
            f ->
                f.status() == Finding.Status.OK
                    && f.message().contains("serves every one of its 16384 hash slots from 3")
                    && f.message().endsWith("each sees cluster_state:ok"))
        .anyMatch(
            f ->
                f.status() == Finding.Status.OK
                    && f.message()
                        .equals(
                            everyMaster(masters)
                                + ": the writer's Lua scripts run as this Redis user"));
    // Both trials ran on every master: the writer's scripts as on one Redis, and as a cluster
    // master runs them (store_shard_position.lua is loaded as it is).
    for (Node master : masters) {
      List<Boolean> loaded =
          onNode(
              master.port(),
              redis -> redis.scriptExists(sha1("write_hash"), sha1("store_shard_position")));
      List<String> left = onNode(master.port(), redis -> redis.keys("*"));
      assertThat(loaded).as("scripts loaded on %s", master.address()).containsExactly(true, true);
      assertThat(left).as("keys left on %s", master.address()).isEmpty();
    }
    // The literal hash tag puts the sessions on one master; user:{id} spreads.
    assertThat(findings.stream().filter(f -> f.status() == Finding.Status.WARNING))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.subject()).isEqualTo("public.sessions");
              assertThat(f.message())
                  .contains("literal hash tag {sessions}")
                  .contains("in slot " + SlotHash.getSlot("sessions") + ", on one master");
            });
  }

  @Test
  void run_oneMasterMayEvictEveryKey_failsNamingThatMasterOnly() throws Exception {
    createUser("evicting", "+@all", "~*", "&*");
    List<Node> masters = cluster.masters();
    Node evicting = masters.get(1);
    expectOk(evicting.port(), "CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    List<Finding> findings;
    try {
      findings = run("evicting", List.of());
    } finally {
      expectOk(evicting.port(), "CONFIG", "SET", "maxmemory-policy", "noeviction");
    }

    assertThat(findings.stream().filter(Finding::failed))
        .singleElement()
        .extracting(Finding::message)
        .asString()
        .startsWith("master " + evicting.address() + ": maxmemory-policy is allkeys-lru, ")
        .contains("set maxmemory-policy to noeviction or a volatile-* policy");
    assertThat(findings)
        .anyMatch(
            f ->
                f.status() == Finding.Status.OK
                    && f.message()
                        .equals(
                            "masters ("
                                + masters.get(0).address()
                                + ", "
                                + masters.get(2).address()
                                + "): maxmemory-policy noeviction never evicts cachesync's"
                                + " state keys"));
  }

  @Test
  void run_aSlotServedByNoMaster_failsNamingTheSlotAndItsMaster() throws Exception {
    createUser("slots", "+@all", "~*", "&*");
    Node owner = cluster.masters().get(2);
    int slot = owner.slots().get(0).first() + 100;
    expectOk(owner.port(), "CLUSTER", "DELSLOTS", Integer.toString(slot));
    List<Finding> findings;
    try {
      await("the master on " + owner.port() + " to see the cluster failing")
          .atMost(Duration.ofSeconds(10))
          .until(() -> clusterInfo(owner.port()).contains("cluster_state:fail"));
      findings = run("slots", List.of());
    } finally {
      expectOk(owner.port(), "CLUSTER", "ADDSLOTS", Integer.toString(slot));
      cluster.awaitStable();
    }

    assertThat(findings)
        .anyMatch(
            f ->
                f.failed()
                    && f.message()
                        .equals(
                            "1 of the 16384 hash slots is served by no master, so writes of keys"
                                + " in it fail: slot "
                                + slot
                                + " assigned to "
                                + owner.address()
                                + " in the cluster's topology, but "
                                + owner.address()
                                + " does not serve them by its own CLUSTER NODES; assign every slot"
                                + " to a running master (CLUSTER ADDSLOTS on the master that should"
                                + " serve it, or redis-cli --cluster fix)"))
        .anyMatch(
            f ->
                f.failed()
                    && f.message()
                        .startsWith("master " + owner.address() + " sees cluster_state:fail (")
                    && f.message().contains("cluster_slots_assigned:16383"))
        .anyMatch(
            f ->
                f.status() == Finding.Status.WARNING
                    && f.message()
                        .startsWith(
                            "master "
                                + owner.address()
                                + ": the writer's Lua scripts were not tried: this master does not"
                                + " see the cluster ok"));
    assertThat(findings).noneMatch(f -> f.message().contains("serves every one of its"));
  }

  @Test
  void run_userLacksACommandOnOneMasterOnly_failsNamingThatMaster() throws Exception {
    createUser("partial", "+@all", "~*", "&*");
    List<Node> masters = cluster.masters();
    Node lacking = masters.get(0);
    expectOk(lacking.port(), "ACL", "SETUSER", "partial", "-expire");

    List<Finding> findings = run("partial", List.of());

    assertThat(findings.stream().filter(Finding::failed))
        .singleElement()
        .extracting(Finding::message)
        .asString()
        .startsWith("master " + lacking.address() + ": ACL user partial lacks EXPIRE (")
        .contains("add +expire")
        .endsWith("on every node of the cluster");
    assertThat(findings)
        .anyMatch(
            f ->
                f.status() == Finding.Status.WARNING
                    && f.message()
                        .startsWith(
                            "master "
                                + lacking.address()
                                + ": the writer's Lua scripts were not tried"))
        .anyMatch(
            f ->
                f.status() == Finding.Status.OK
                    && f.message()
                        .equals(
                            "masters ("
                                + masters.get(1).address()
                                + ", "
                                + masters.get(2).address()
                                + "): the writer's Lua scripts run as this Redis user"));
  }

  @Test
  void run_userWithOnlyThePrintedGrant_passesAndRedisRefusesNothing() throws Exception {
    createUser("least");
    List<TableMapping> tables = List.of(table("public.users", "user:{id}"));
    RedisAclGrant grant = RedisAclGrant.of(RedisRights.of(settings("least"), tables));
    assertThat(grant.arguments())
        .contains("+cluster|nodes", "+client|setname", "~cachesync:it:shard:*")
        .doesNotContain("+select");
    List<Node> nodes = everyNode();
    for (Node node : nodes) {
      assertThat(cluster.command(node.port(), grant.arguments().toArray(String[]::new)))
          .as("the grant on %s", node.address())
          .isEqualTo("+OK");
      expectOk(node.port(), "ACL", "LOG", "RESET");
    }

    List<Finding> findings = run("least", tables);

    assertThat(findings).as("%s", findings).noneMatch(Finding::failed);
    assertThat(findings)
        .anyMatch(
            f ->
                f.message()
                    .equals(
                        everyMaster(cluster.masters())
                            + ": ACL user least may run every command cachesync sends and write"
                            + " the keys of every mapped table and of its state"));
    for (Node node : nodes) {
      List<Map<String, Object>> refused = onNode(node.port(), RedisCommands::aclLog);
      assertThat(refused).as("what %s refused", node.address()).isEmpty();
    }
  }

  @Test
  void run_userWithoutClusterNodes_failsNamingTheRight() throws Exception {
    createUser("blind", "+@all", "-cluster|nodes", "~*", "&*");

    List<Finding> findings = run("blind", List.of());

    assertThat(findings)
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.failed()).isTrue();
              assertThat(f.message())
                  .contains("refused its topology to the user of redis.uri (NOPERM")
                  .contains("grant +cluster|nodes");
            });
  }

  private static List<Finding> run(String user, List<TableMapping> tables) throws Exception {
    SynchronizerSettings settings = settings(user);
    return new RedisPreflight(settings, RedisRights.of(settings, tables), tables).run();
  }

  private static SynchronizerSettings settings(String user) {
    String uri =
        cluster.uri().replace("redis-cluster://", "redis-cluster://" + user + ":" + PASSWORD + "@");
    return new SynchronizerSettings(
        "it",
        new PostgresSettings("127.0.0.1", 5432, "it", "it", Optional.empty()),
        new RedisSettings(uri),
        Path.of("mapping.yml"));
  }

  /**
   * A user with {@code rules} on every node, replicas too: the cluster client reads the topology
   * from any node.
   */
  private static void createUser(String user, String... rules) {
    List<String> command =
        new ArrayList<>(List.of("ACL", "SETUSER", user, "reset", "on", ">" + PASSWORD));
    command.addAll(List.of(rules));
    for (Node node : everyNode()) {
      expectOk(node.port(), command.toArray(String[]::new));
    }
  }

  private static List<Node> everyNode() {
    List<Node> nodes = cluster.nodes().stream().filter(n -> !n.failed()).toList();
    assertThat(nodes).hasSize(6);
    return nodes;
  }

  private static String everyMaster(List<Node> masters) {
    return "every master (" + String.join(", ", masters.stream().map(Node::address).toList()) + ")";
  }

  private static TableMapping table(String table, String key) {
    return new TableMapping(
        TableId.parse(table),
        KeyTemplate.parse(key),
        TableMapping.DEFAULT_FORMAT,
        TableMapping.DEFAULT_MODE,
        List.of(),
        Optional.empty());
  }

  private static void expectOk(int port, String... arguments) {
    assertThat(cluster.command(port, arguments)).as(String.join(" ", arguments)).isEqualTo("+OK");
  }

  private static String clusterInfo(int port) {
    return onNode(port, RedisCommands::clusterInfo);
  }

  /** Runs {@code work} on a connection of the default user to the node on {@code port}. */
  private static <T> T onNode(int port, Function<RedisCommands<String, String>, T> work) {
    RedisClient client = RedisClient.create(resources, RedisURI.create("127.0.0.1", port));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      return work.apply(connection.sync());
    } finally {
      client.shutdown();
    }
  }

  /** The SHA1 digest Redis names script {@code name}.lua by, loaded as it is. */
  private static String sha1(String name) {
    try (InputStream in =
        RedisRights.class.getResourceAsStream("/io/cachesync/redis/" + name + ".lua")) {
      assertThat(in).as(name + ".lua").isNotNull();
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(in.readAllBytes()));
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
