package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.testing.ClosedPort;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisCluster.Node;
import io.cachesync.testing.TestServers;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The jobs' reads of Redis on a real Redis Cluster (3 masters, a replica each): a walk of a prefix
 * sees every key on every master, also when slots move between masters or a master dies during the
 * walk; versions of keys of many slots come back in the caller's order; the key count is the
 * masters' sum and random keys are drawn in proportion to each master's keys; the orphan sweep's
 * eviction refuses while the position is before its fence; and the reader compares hashes as on one
 * master, also after slots moved under it.
 *
 * <p>The topology changes happen at a chosen point of a walk: from the inspector's hook, told each
 * master whose scan just ended, or from the page callback, while a master is being scanned.
 */
class ClusterInspectorIT {
  private static final String STATE = "{cachesync:t}:";
  private static final String[] ROW = {"id", "7", "name", "Zoë 🚀", "kind", "3"};

  private static RedisCluster cluster;
  private static RedisClusterClient client;
  private static StatefulRedisClusterConnection<String, String> connection;
  private static RedisAdvancedClusterCommands<String, String> redis;
  private static LettuceCacheInspector inspector;

  /** The port of a master a test killed, brought back after it so that the next has it. */
  private Integer killedPort;

  @BeforeAll
  static void start() throws Exception {
    cluster = TestServers.redisCluster(3, 1);
    client =
        RedisClusterClient.create(
            cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
    connection = client.connect();
    redis = connection.sync();
    inspector = LettuceCacheInspector.connect(new RedisSettings(cluster.uri()));
  }

  @AfterAll
  static void stop() {
    if (inspector != null) {
      inspector.close();
    }
    if (connection != null) {
      connection.close();
      client.shutdown();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @BeforeEach
  void flush() {
    cluster.awaitStable();
    for (Node master : cluster.masters()) {
      assertThat(cluster.command(master.port(), "FLUSHALL")).isEqualTo("+OK");
    }
    client.refreshPartitions();
  }

  @AfterEach
  void restore() {
    inspector.afterEachMaster(address -> {});
    if (killedPort != null) {
      cluster.rejoin(killedPort);
      killedPort = null;
    }
  }

  @Test
  void walk_keysOnEveryMaster_seesEachKeyOfThePrefixOnly() {
    Set<String> written = write("walk:", 3_000);
    write("other:", 300);

    List<String> seen = walk("walk:*", 100);

    assertThat(mastersHolding(written)).hasSize(3);
    assertThat(seen).hasSize(written.size());
    assertThat(new HashSet<>(seen)).isEqualTo(written);
  }

  @Test
  void scanWhile_pageSaysStop_noMorePageComes() {
    write("stop:", 3_000);
    List<Integer> pages = new ArrayList<>();

    inspector.scanWhile(
        "stop:*",
        10,
        keys -> {
          pages.add(keys.size());
          return pages.size() < 2;
        });

    assertThat(pages).hasSize(2);
  }

  @Test
  void walk_slotsMoveFromAMasterNotScannedYetToOneScanned_seesEachKey() {
    Set<String> written = write("moved:", 3_000);
    List<Node> before = cluster.masters();
    List<String> scanned = new ArrayList<>();
    AtomicReference<Node[]> moved = new AtomicReference<>();
    inspector.afterEachMaster(
        address -> {
          scanned.add(address);
          if (scanned.size() == 1) {
            Node to = byAddress(before, address);
            Node from = before.stream().filter(n -> n != to).findFirst().orElseThrow();
            cluster.reshard(from.port(), to.port(), 300);
            moved.set(new Node[] {from, to});
          }
        });

    Set<String> seen = new HashSet<>(walk("moved:*", 100));

    assertThat(keysMoved(written, moved.get())).as("keys the reshard moved").isNotEmpty();
    assertThat(missing(written, seen)).isEmpty();
    assertThat(scanned)
        .as("the master the slots moved to is scanned again")
        .filteredOn(moved.get()[1].address()::equals)
        .hasSizeGreaterThan(1);
  }

  @Test
  void walk_slotsMoveWhileAMasterIsScanned_seesEachKey() {
    Set<String> written = write("midscan:", 3_000);
    List<Node> before = cluster.masters();
    List<String> scanned = new ArrayList<>();
    inspector.afterEachMaster(scanned::add);
    AtomicReference<Node[]> moved = new AtomicReference<>();
    Set<String> seen = new HashSet<>();

    inspector.scanWhile(
        "midscan:*",
        10,
        keys -> {
          seen.addAll(keys);
          if (scanned.size() == 1 && moved.get() == null) {
            // The second master is being scanned: most of its keys are still to come.
            Node scanning = ownerOf(before, keys.get(0));
            Node done = byAddress(before, scanned.get(0));
            cluster.reshard(scanning.port(), done.port(), 300);
            moved.set(new Node[] {scanning, done});
          }
          return true;
        });

    assertThat(keysMoved(written, moved.get())).as("keys the reshard moved").isNotEmpty();
    assertThat(missing(written, seen)).isEmpty();
  }

  @Test
  void walk_aMasterNotScannedYetIsKilled_seesItsKeysOnTheReplicaThatTookOver() {
    Set<String> written = write("killed:", 3_000);
    cluster.awaitStable(); // the replicas hold every key
    List<Node> before = cluster.masters();
    List<String> scanned = new ArrayList<>();
    AtomicReference<Node> promoted = new AtomicReference<>();
    inspector.afterEachMaster(
        address -> {
          scanned.add(address);
          if (scanned.size() == 1) {
            Node victim =
                before.stream().filter(n -> !n.address().equals(address)).findFirst().orElseThrow();
            killedPort = victim.port();
            promoted.set(cluster.killMaster(victim.port()));
          }
        });

    Set<String> seen = new HashSet<>(walk("killed:*", 100));

    assertThat(missing(written, seen)).isEmpty();
    assertThat(scanned).contains(promoted.get().address());
  }

  @Test
  void countKeys_slotsMoveDuringTheCount_countsEachKeyOnce() {
    Set<String> written = write("count:", 2_000);
    List<Node> before = cluster.masters();
    List<String> scanned = new ArrayList<>();
    inspector.afterEachMaster(
        address -> {
          scanned.add(address);
          if (scanned.size() == 1) {
            Node to = byAddress(before, address);
            Node from = before.stream().filter(n -> n != to).findFirst().orElseThrow();
            cluster.reshard(from.port(), to.port(), 300);
          }
        });

    java.util.OptionalLong count =
        inspector.countKeys(
            "count:*", key -> !key.endsWith("7"), System.nanoTime() + 60_000_000_000L);

    assertThat(scanned.size()).as("masters scanned, some again").isGreaterThan(3);
    assertThat(count).hasValue(written.stream().filter(key -> !key.endsWith("7")).count());
  }

  @Test
  void countKeys_deadlinePassed_givesUp() {
    write("late:", 300);

    assertThat(inspector.countKeys("late:*", key -> true, System.nanoTime() - 1)).isEmpty();
  }

  @Test
  void versions_keysOfManySlots_eachKeysVersionInTheCallersOrder() {
    Map<String, String> expected = new LinkedHashMap<>();
    for (int i = 0; i < 300; i++) {
      String version = version(i + 1);
      redis.hset("ver:hash:" + i, Map.of("__v", version, "id", Integer.toString(i)));
      expected.put("ver:hash:" + i, version);
      String json = version(1_000 + i);
      redis.set("ver:json:" + i, "{\"__v\":\"" + json + "\",\"id\":" + i + "}");
      expected.put("ver:json:" + i, json);
      expected.put("ver:missing:" + i, "-");
    }
    redis.hset("ver:plain", "id", "1");
    expected.put("ver:plain", "");
    redis.set("ver:text", "no version");
    expected.put("ver:text", "");
    // Keys of one slot: one script reads them together.
    redis.hset("{ver}:a", "__v", version(7));
    expected.put("{ver}:a", version(7));
    expected.put("{ver}:gone", "-");
    redis.set("{ver}:b", "{\"__v\":\"" + version(8) + "\"}");
    expected.put("{ver}:b", version(8));
    List<String> keys = new ArrayList<>(expected.keySet());
    Collections.shuffle(keys, new Random(18));

    List<String> versions = inspector.versions(keys);

    assertThat(mastersHolding(expected.keySet())).hasSize(3);
    assertThat(versions).containsExactlyElementsOf(keys.stream().map(expected::get).toList());
  }

  @Test
  void versionsAndEvict_scriptsFlushedOnEveryNode_areSentAgain() {
    redis.hset("flushed:1", "__v", version(5));
    redis.hset("flushed:2", "__v", version(6));
    for (Node node : cluster.nodes()) {
      assertThat(cluster.command(node.port(), "SCRIPT", "FLUSH")).isEqualTo("+OK");
    }

    assertThat(inspector.versions(List.of("flushed:1", "flushed:2")))
        .containsExactly(version(5), version(6));
    assertThat(inspector.evict(Map.of("flushed:1", version(5)))).isEqualTo(1);
    assertThat(redis.exists("flushed:1")).isZero();
  }

  @Test
  void keyCount_isTheSumOfTheMastersKeys() {
    write("size:", 2_000);

    long count = inspector.keyCount();

    List<Long> sizes = cluster.masters().stream().map(n -> dbsize(n.port())).toList();
    assertThat(sizes).allMatch(size -> size > 0);
    assertThat(count).isEqualTo(2_000).isEqualTo(sizes.stream().mapToLong(Long::longValue).sum());
  }

  @Test
  void randomKeys_drawEachMasterInProportionToItsKeys() {
    List<Node> masters = cluster.masters();
    // 3,000 keys on one master, 300 and 30 on the others: each under a tag of a slot it serves.
    int[] counts = {3_000, 300, 30};
    Map<String, Integer> masterOfTag = new TreeMap<>();
    for (int m = 0; m < 3; m++) {
      String tag = SlotTags.tag(masters.get(m).slots().get(0).first());
      masterOfTag.put(tag, m);
      Map<String, String> values = new LinkedHashMap<>();
      for (int i = 0; i < counts[m]; i++) {
        values.put("{" + tag + "}:" + i, "x");
      }
      redis.mset(values);
    }

    List<String> drawn = inspector.randomKeys(3_000);

    assertThat(drawn).hasSize(3_000);
    Map<Integer, Long> byMaster =
        drawn.stream()
            .collect(
                Collectors.groupingBy(
                    key -> masterOfTag.get(key.substring(1, key.indexOf('}'))),
                    Collectors.counting()));
    // Expected shares 0.90, 0.09, 0.009 (a master picked at random would give a third each).
    assertThat(byMaster.get(0) / 3_000.0).isBetween(0.86, 0.94);
    assertThat(byMaster.getOrDefault(1, 0L) / 3_000.0).isBetween(0.06, 0.12);
  }

  @Test
  void evictBehindTheStream_positionBeforeTheFence_refusesAndKeepsEveryKey() {
    Map<String, String> seen = orphans(60);
    redis.hset(STATE + "position", "applied", "0000000000000100");

    assertThatThrownBy(() -> inspector.evictBehindTheStream(seen, STATE, 0x200))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("60 orphan keys not removed (0 were)")
        .hasMessageContaining(STATE + "position applied");
    assertThat(existing(seen.keySet())).isEqualTo(seen.size());

    redis.del(STATE + "position");
    assertThatThrownBy(() -> inspector.evictBehindTheStream(seen, STATE, 0x200))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("orphan keys not removed");
    assertThat(existing(seen.keySet())).isEqualTo(seen.size());
  }

  @Test
  void evictBehindTheStream_positionAtOrPastTheFence_evictsByVersion() {
    Map<String, String> seen = orphans(60);
    // One key the stream rewrote since the sweep read it: kept.
    redis.hset("orphan:0", "__v", version(99));
    redis.hset(STATE + "position", "applied", "0000000000000200");

    long evicted = inspector.evictBehindTheStream(seen, STATE, 0x200);

    assertThat(evicted).isEqualTo(59);
    assertThat(existing(seen.keySet())).isEqualTo(1);
    assertThat(redis.exists("orphan:0")).isEqualTo(1);
  }

  @Test
  void reader_hashesHoldingTheRowsFieldsInOrder_areReadAsExpected() {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      hash("first:" + i, "__v", "00ab", "id", "7", "name", "Zoë 🚀", "kind", "3");
      hash("middle:" + i, "id", "7", "__v", "00ab", "name", "Zoë 🚀", "kind", "3");
      hash("last:" + i, "id", "7", "name", "Zoë 🚀", "kind", "3", "__v", "00ab");
      keys.addAll(List.of("first:" + i, "middle:" + i, "last:" + i));
    }

    List<CachedValue> values = readHashes(keys);

    assertThat(mastersHolding(keys)).hasSize(3);
    assertThat(values).hasSize(keys.size());
    for (CachedValue value : values) {
      assertThat(value.asExpected()).isTrue();
      assertThat(value.fields()).containsExactly(Map.entry("__v", "00ab"));
    }
  }

  @Test
  void reader_everyOtherHash_comesBackWholeAsHgetallAnswersIt() {
    Map<String, String[]> keys = new LinkedHashMap<>();
    for (int i = 0; i < 20; i++) {
      keys.put("value-differs:" + i, new String[] {"__v", "01", "id", "7", "name", "Zoe"});
      keys.put("name-differs:" + i, new String[] {"id", "7", "title", "Zoë 🚀", "kind", "3"});
      keys.put(
          "a-field-more:" + i, new String[] {"id", "7", "name", "Zoë 🚀", "kind", "3", "x", "y"});
      keys.put("other-order:" + i, new String[] {"name", "Zoë 🚀", "id", "7", "kind", "3"});
    }
    keys.forEach(ClusterInspectorIT::hash);

    List<CachedValue> values = readHashes(List.copyOf(keys.keySet()));

    assertThat(mastersHolding(keys.keySet())).hasSize(3);
    int i = 0;
    for (String key : keys.keySet()) {
      CachedValue value = values.get(i++);
      assertThat(value.asExpected()).as(key).isFalse();
      assertThat(value.type()).as(key).isEqualTo("hash");
      assertThat(value.fields()).as(key).isEqualTo(redis.hgetall(key));
    }
  }

  @Test
  void reader_missingKeysAreAbsent_andKeysOfAnotherTypeNamedByTheirType() {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      redis.set("text:" + i, "not a hash");
      redis.rpush("list:" + i, "a");
      keys.addAll(List.of("missing:" + i, "text:" + i, "list:" + i));
    }

    List<CachedValue> values = readHashes(keys);

    assertThat(mastersHolding(keys)).hasSize(3);
    for (int i = 0; i < keys.size(); i += 3) {
      assertThat(values.get(i).absent()).as(keys.get(i)).isTrue();
      assertThat(values.get(i + 1).type()).as(keys.get(i + 1)).isEqualTo("string");
      assertThat(values.get(i + 2).type()).as(keys.get(i + 2)).isEqualTo("list");
      for (int j = i; j < i + 3; j++) {
        assertThat(values.get(j).asExpected()).isFalse();
      }
    }
  }

  @Test
  void reader_slotsMovedSinceItReadTheTopology_followsTheRedirections() {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      hash("redirected:" + i, "id", "7", "name", "Zoë 🚀", "kind", "3");
      keys.add("redirected:" + i);
    }
    redis.set("redirected:text", "not a hash");
    keys.add("redirected:text");
    List<Node> before = cluster.masters();
    // The test's client never reads the topology again by itself: after the reshard, every key
    // that moved is answered MOVED, and sent again to its new master.
    try (LettuceCacheReader reader = new LettuceCacheReader(client.connect())) {
      assertThat(reader.sendHashes(keys, rows(keys.size())).values()).hasSize(keys.size());
      cluster.reshard(before.get(0).port(), before.get(1).port(), 500);

      List<CachedValue> values = reader.sendHashes(keys, rows(keys.size())).values();

      assertThat(keysMoved(new HashSet<>(keys), new Node[] {before.get(0), before.get(1)}))
          .isNotEmpty();
      assertThat(values.subList(0, 600)).allMatch(CachedValue::asExpected);
      assertThat(values.get(600).type()).isEqualTo("string");
    }
  }

  @Test
  void connect_noSeedAnswers_isUnreachable() {
    try (ClosedPort closed = new ClosedPort()) {
      RedisSettings nowhere = new RedisSettings("redis-cluster://127.0.0.1:" + closed.port());

      assertThatThrownBy(() -> LettuceCacheInspector.connect(nowhere))
          .isInstanceOf(ServerUnreachableException.class)
          .hasMessageContaining("127.0.0.1:" + closed.port());
    }
  }

  /** Writes {@code count} keys {@code prefix + i}; returns them. */
  private static Set<String> write(String prefix, int count) {
    Map<String, String> values = new LinkedHashMap<>();
    for (int i = 0; i < count; i++) {
      values.put(prefix + i, "value " + i);
    }
    assertThat(redis.mset(values)).isEqualTo("OK");
    return values.keySet();
  }

  /** Keys without a version on every master, each seen without one. */
  private static Map<String, String> orphans(int count) {
    Map<String, String> seen = new LinkedHashMap<>();
    for (int i = 0; i < count; i++) {
      redis.hset("orphan:" + i, "id", Integer.toString(i));
      seen.put("orphan:" + i, "");
    }
    assertThat(mastersHolding(seen.keySet())).hasSize(3);
    return seen;
  }

  private static List<String> walk(String glob, int count) {
    List<String> seen = new ArrayList<>();
    inspector.scan(glob, count, seen::addAll);
    return seen;
  }

  private static long existing(Set<String> keys) {
    return keys.stream().filter(key -> redis.exists(key) == 1).count();
  }

  private static void hash(String key, String... fieldsAndValues) {
    // One field at a time, in order: a small hash answers in the order its fields were written.
    for (int i = 0; i < fieldsAndValues.length; i += 2) {
      redis.hset(key, fieldsAndValues[i], fieldsAndValues[i + 1]);
    }
  }

  private static List<CachedValue> readHashes(List<String> keys) {
    try (LettuceCacheReader reader = inspector.openReader()) {
      return reader.sendHashes(keys, rows(keys.size())).values();
    }
  }

  private static List<String[]> rows(int count) {
    return Collections.nCopies(count, ROW);
  }

  private static String version(long n) {
    return String.format("%032x", n);
  }

  private static long dbsize(int port) {
    String reply = cluster.command(port, "DBSIZE");
    assertThat(reply).startsWith(":");
    return Long.parseLong(reply.substring(1));
  }

  private static Node byAddress(List<Node> masters, String address) {
    return masters.stream()
        .filter(n -> n.address().equals(address))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no master " + address + " in " + masters));
  }

  private static Node ownerOf(List<Node> masters, String key) {
    int slot = SlotHash.getSlot(key);
    return masters.stream().filter(n -> n.owns(slot)).findFirst().orElseThrow();
  }

  /** The ports of the masters that hold {@code keys}, as the cluster is now. */
  private static Set<Integer> mastersHolding(java.util.Collection<String> keys) {
    List<Node> masters = cluster.masters();
    return keys.stream().map(key -> ownerOf(masters, key).port()).collect(Collectors.toSet());
  }

  /** The keys whose slot {@code fromTo[0]} served before and {@code fromTo[1]} serves now. */
  private static Set<String> keysMoved(Set<String> keys, Node[] fromTo) {
    Node to = cluster.node(fromTo[1].port());
    return keys.stream()
        .filter(key -> fromTo[0].owns(SlotHash.getSlot(key)) && to.owns(SlotHash.getSlot(key)))
        .collect(Collectors.toSet());
  }

  /** The keys of {@code written} not {@code seen}, the first 20. */
  private static List<String> missing(Set<String> written, Set<String> seen) {
    return written.stream().filter(key -> !seen.contains(key)).limit(20).toList();
  }
}
