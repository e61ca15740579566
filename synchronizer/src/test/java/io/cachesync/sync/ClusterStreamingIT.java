package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisCluster.Node;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestServers;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon on a Redis Cluster (3 masters, a replica each), in this JVM: the initial load puts
 * each row's key on the master serving its slot, every kind of change streams there, a TRUNCATE
 * reaches every master, and the stream goes on across a failover, slots moving and a master that
 * restarts empty (which makes the daemon load every table again).
 */
class ClusterStreamingIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n"
          + "  - table: public.users\n"
          + "    key: \"user:{id}\"\n"
          + "  - table: public.orders\n"
          + "    key: \"order:{id}\"\n"
          + "    format: json\n";
  private static final int ROWS = 300;

  private SyncHarness harness;
  private RedisCluster cluster;
  private RedisClusterClient client;
  private StatefulRedisClusterConnection<String, String> connection;
  private RedisAdvancedClusterCommands<String, String> redis;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("clusterstream");
    cluster = TestServers.redisCluster(3, 1);
    client =
        RedisClusterClient.create(
            cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
    connection = client.connect();
    redis = connection.sync();
  }

  @AfterEach
  void tearDown() {
    harness.stopDaemon();
    if (connection != null) {
      connection.close();
      client.shutdown();
    }
    if (cluster != null) {
      cluster.close();
    }
    harness.close();
  }

  @Test
  void loadThenStream_everyChangeReachesTheMasterOfItsKey() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g",
        "INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, " + ROWS + ") g");
    harness.startWith(harness.configFor(cluster.uri(), 1, MAPPING));

    awaitUsers(ROWS, "user ");
    // Keys on every master: the load was split by slot.
    Set<Integer> ports = new HashSet<>();
    for (int i = 1; i <= ROWS; i++) {
      int slot = SlotHash.getSlot("user:" + i);
      cluster.masters().stream().filter(m -> m.owns(slot)).forEach(m -> ports.add(m.port()));
    }
    assertThat(ports).hasSize(3);

    harness.sql(
        "UPDATE users SET name = 'renamed ' || id",
        "DELETE FROM orders WHERE id % 2 = 0",
        "INSERT INTO users VALUES (" + (ROWS + 1) + ", 'new')");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(redis.hget("user:" + (ROWS + 1), "name")).isEqualTo("new");
              assertThat(redis.hget("user:7", "name")).isEqualTo("renamed 7");
              assertThat(redis.exists("order:2")).isZero();
              assertThat(redis.get("order:3")).contains("\"total\":\"4.50\"");
            });

    harness.sql("TRUNCATE orders");
    await().atMost(WAIT).untilAsserted(() -> assertThat(redis.keys("order:*")).isEmpty());
    assertThat(redis.keys("user:*")).hasSize(ROWS + 1);
  }

  @Test
  void failoverAndMovingSlots_theStreamGoesOn() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g");
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
    awaitUsers(ROWS, "user ");

    cluster.failover(cluster.masters().get(0).port());
    harness.sql("UPDATE users SET name = 'after failover ' || id");
    awaitUsers(ROWS, "after failover ");

    java.util.List<Node> masters = cluster.masters();
    cluster.reshard(masters.get(1).port(), masters.get(2).port(), 2_000);
    harness.sql("UPDATE users SET name = 'after reshard ' || id");
    awaitUsers(ROWS, "after reshard ");
    assertThat(harness.daemon().synchronizer().acknowledged()).isNotNull();
  }

  @Test
  void aMasterRestartedEmpty_isNoticed_andEveryTableLoadedAgain() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g");
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
    awaitUsers(ROWS, "user ");

    cluster.restartMasterEmpty(cluster.masters().get(2).port());
    // The in-process daemon stops once it notices; `cachesync run` would start a new one.
    await().atMost(WAIT).until(() -> harness.daemon().terminated().isDone());
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
    awaitUsers(ROWS, "user ");
  }

  private void awaitUsers(int rows, String namePrefix) {
    await()
        .atMost(WAIT)
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (int i = 1; i <= rows; i++) {
                assertThat(redis.hgetall("user:" + i))
                    .as("user:" + i)
                    .containsAllEntriesOf(
                        Map.of("id", Integer.toString(i), "name", namePrefix + i));
              }
            });
  }
}
