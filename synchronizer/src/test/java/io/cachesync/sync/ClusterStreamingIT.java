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
 * reaches every master, and the stream goes on across a failover and slots moving. A master that
 * restarts empty, or holds less than every master acknowledged, is repaired alone: its keys are
 * deleted and a resync writes the keys of its slots, while the other masters keep theirs.
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
  void aMasterRestartedEmpty_isRepairedAlone_byAResyncOfItsSlots() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        // Values kept in line: no UPDATE leaves one out (see toastableColumns).
        "ALTER TABLE users ALTER COLUMN name SET STORAGE PLAIN",
        "ALTER TABLE orders ALTER COLUMN total SET STORAGE PLAIN",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g",
        "INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, " + ROWS + ") g");
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
    // Streaming, the initial load done: the loss is one of acknowledged batches.
    harness.daemon().initialLoad().get(60, java.util.concurrent.TimeUnit.SECONDS);
    awaitUsers(ROWS, "user ");
    Node lost = dataOnlyMaster();
    String keptKey = keyOnAnotherMaster(lost);
    // A reload, or a repair that wrote keys outside the lost master's slots, would drop the field.
    redis.hset(keptKey, "marker", "kept");

    cluster.restartMasterEmpty(lost.port());
    // The in-process daemon stops once it notices; `cachesync run` would start a new one.
    await().atMost(WAIT).until(() -> harness.daemon().terminated().isDone());
    harness.sql("UPDATE users SET name = 'renamed ' || id WHERE id <= 20");
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));

    awaitRepairDone(lost);
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              for (int i = 1; i <= ROWS; i++) {
                assertThat(redis.hget("user:" + i, "name"))
                    .as("user:" + i)
                    .isEqualTo((i <= 20 ? "renamed " : "user ") + i);
                assertThat(redis.exists("order:" + i)).as("order:" + i).isOne();
              }
            });
    assertThat(redis.hget(keptKey, "marker")).isEqualTo("kept");
  }

  @Test
  void aMasterBehind_itsStaleAndDeletedRowsGo_andOnlyItsSlotsAreWrittenAgain() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        "ALTER TABLE users ALTER COLUMN name SET STORAGE PLAIN",
        "ALTER TABLE orders ALTER COLUMN total SET STORAGE PLAIN",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g");
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
    awaitUsers(ROWS, "user ");
    harness.stopDaemon();
    Node lost = dataOnlyMaster();
    String keptKey = keyOnAnotherMaster(lost);
    int staleId = idOn(lost, 1);
    int deletedId = idOn(lost, ROWS + 1);
    // What a failover to a replica that was behind leaves on a master: an old value, the key of a
    // row deleted since, and a shard position behind the one every master acknowledged.
    redis.hset("user:" + staleId, "name", "old value");
    redis.hset(
        "user:" + deletedId,
        Map.of("__v", "0".repeat(31) + "1", "id", Integer.toString(deletedId), "name", "gone"));
    var node = connection.getConnection("127.0.0.1", lost.port()).sync();
    java.util.List<String> shardKeys =
        node.keys("cachesync:*:shard:*").stream()
            .filter(key -> key.matches(".*:shard:\\{[0-9a-z]+\\}"))
            .toList();
    assertThat(shardKeys).as("the lost master's shard key").hasSize(1);
    assertThat(node.hset(shardKeys.get(0), "version", "0".repeat(31) + "1")).isFalse();
    redis.hset(keptKey, "marker", "kept");

    try (java.sql.Connection lock = harness.postgres.connect(harness.database)) {
      // The resync's reads of users wait behind the lock: what the start did shows on its own.
      lock.setAutoCommit(false);
      lock.createStatement().execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
      harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
      assertThat(redis.exists("user:" + staleId)).as("the old value, deleted").isZero();
      assertThat(redis.exists("user:" + deletedId)).as("the deleted row's key").isZero();
      assertThat(redis.hget(keptKey, "marker")).isEqualTo("kept");
      lock.rollback();
    }

    awaitRepairDone(lost);
    awaitUsers(ROWS, "user ");
    assertThat(redis.exists("user:" + deletedId)).isZero();
    assertThat(redis.hget(keptKey, "marker")).isEqualTo("kept");
    harness.sql("UPDATE users SET name = 'after repair ' || id");
    awaitUsers(ROWS, "after repair ");
  }

  @Test
  void aMasterRestartedEmpty_withColumnsThatCanBeToasted_loadsEveryTableAgain() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2))",
        "INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, " + ROWS + ") g");
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));
    harness.daemon().initialLoad().get(60, java.util.concurrent.TimeUnit.SECONDS);
    awaitUsers(ROWS, "user ");
    Node lost = dataOnlyMaster();
    String keptKey = keyOnAnotherMaster(lost);
    redis.hset(keptKey, "marker", "kept");

    cluster.restartMasterEmpty(lost.port());
    await().atMost(WAIT).until(() -> harness.daemon().terminated().isDone());
    harness.startWith(harness.configFor(cluster.uri(), 0, MAPPING));

    awaitUsers(ROWS, "user ");
    // Reloaded: the other masters' keys were written again too, and no repair was queued.
    await().atMost(WAIT).until(() -> redis.hget(keptKey, "marker") == null);
    assertThat(redis.keys("{cachesync:" + SyncHarness.NAME + "}:resync:repair-*")).isEmpty();
  }

  /** A master that does not serve the state's slot: losing it leaves the state whole. */
  private Node dataOnlyMaster() {
    int stateSlot = SlotHash.getSlot("{cachesync:" + SyncHarness.NAME + "}:position");
    return cluster.masters().stream().filter(m -> !m.owns(stateSlot)).findFirst().orElseThrow();
  }

  /** A user key some other master than {@code master} serves, of a high id no test updates. */
  private String keyOnAnotherMaster(Node master) {
    for (int i = ROWS; i > 20; i--) {
      if (!master.owns(SlotHash.getSlot("user:" + i))) {
        return "user:" + i;
      }
    }
    throw new IllegalStateException("every user key is on " + master.port());
  }

  /** The first user id from {@code from} on whose key {@code master} serves. */
  private static int idOn(Node master, int from) {
    for (int i = from; ; i++) {
      if (master.owns(SlotHash.getSlot("user:" + i))) {
        return i;
      }
    }
  }

  /** Waits for the one repair request's resync to be done, for the lost master's slots. */
  private void awaitRepairDone(Node lost) {
    String requests = "{cachesync:" + SyncHarness.NAME + "}:resync:repair-*";
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              java.util.List<String> repairs = redis.keys(requests);
              assertThat(repairs).hasSize(1);
              assertThat(redis.hget(repairs.get(0), "status")).isEqualTo("done");
              assertThat(io.cachesync.redis.HashSlots.parse(redis.hget(repairs.get(0), "slots")))
                  .isEqualTo(slotsOf(lost));
            });
  }

  private static io.cachesync.redis.HashSlots slotsOf(Node master) {
    Set<Integer> slots = new HashSet<>();
    for (int slot = 0; slot < io.cachesync.redis.HashSlots.COUNT; slot++) {
      if (master.owns(slot)) {
        slots.add(slot);
      }
    }
    return io.cachesync.redis.HashSlots.of(slots);
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
