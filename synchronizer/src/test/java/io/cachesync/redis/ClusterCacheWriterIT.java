package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisCluster.Node;
import io.cachesync.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The writer for a Redis Cluster on a real one (3 masters, a replica each): every key lands on the
 * master serving its slot, each master's part of a batch stores that shard's position with it, and
 * the batch's position is stored once every shard acknowledged; a batch survives slots moving
 * between batches; a master that restarted empty is noticed as a rollback; a TRUNCATE reaches every
 * master.
 */
class ClusterCacheWriterIT {
  private static final TableId USERS = TableId.parse("public.users");
  private static final TableId DOCS = TableId.parse("public.docs");
  private static final String STATE = "{cachesync:t}:";
  private static final String SHARDS = "cachesync:t:shard:";
  private static final Version FIRST = new Version(0x100, 0x10);
  private static final Version SECOND = new Version(0x200, 0x20);
  private static final Version THIRD = new Version(0x300, 0x30);
  private static final int ROWS = 600;

  private static RedisCluster cluster;
  private static RedisClusterClient reader;
  private static StatefulRedisClusterConnection<String, String> connection;
  private static RedisAdvancedClusterCommands<String, String> redis;

  private ClusterCacheWriter writer;

  @BeforeAll
  static void start() {
    cluster = TestServers.redisCluster(3, 1);
    reader =
        RedisClusterClient.create(
            cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
    connection = reader.connect();
    redis = connection.sync();
  }

  @AfterAll
  static void stop() {
    if (connection != null) {
      connection.close();
      reader.shutdown();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @BeforeEach
  void connect() throws Exception {
    cluster.awaitStable();
    for (Node master : cluster.masters()) {
      assertThat(cluster.command(master.port(), "FLUSHALL")).isEqualTo("+OK");
    }
    reader.refreshPartitions();
    writer = ClusterCacheWriter.connect(new RedisSettings(cluster.uri()), STATE, SHARDS);
  }

  @AfterEach
  void close() {
    if (writer != null) {
      writer.close();
    }
  }

  @Test
  void aBatchOverEveryMaster_landsEachKeyOnItsMaster_andStoresEachShardsPosition() {
    BatchOutcome outcome = writer.apply(rows(FIRST), FIRST, Version.ZERO);

    assertThat(outcome.written()).isEqualTo(ROWS + ROWS / 6);
    assertRowsHeld(FIRST);
    assertShardPositions(FIRST);
    assertThat(writer.position()).contains(FIRST);
    assertThat(redis.hget(STATE + "position", "applied")).isEqualTo(FIRST.appliedText());

    // An older write is refused per key, an eviction reaches its master, all in one batch.
    List<CacheOperation> second = new ArrayList<>();
    second.add(user(7, new Version(0x50, 0x5)));
    for (int i = 0; i < ROWS; i += 2) {
      second.add(new Evict(USERS, "user:" + i, SECOND));
    }
    BatchOutcome next = writer.apply(second, SECOND, FIRST);

    // The older write is below the shard's position: that master holds it already, and it is
    // not sent again (a key's own guard refuses it otherwise; VersionGuardIT).
    assertThat(next.stale()).isZero();
    assertThat(next.evicted()).isEqualTo(ROWS / 2);
    for (int i = 0; i < ROWS; i++) {
      assertThat(redis.exists("user:" + i)).as("user:" + i).isEqualTo(i % 2 == 0 ? 0L : 1L);
    }
    assertThat(redis.hget("user:7", "__v")).isEqualTo(FIRST.text());
    assertThat(writer.position()).contains(SECOND);
  }

  @Test
  void slotsMovedBetweenBatches_theNextBatchWritesEachKeyOnItsNewMaster() {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    List<Node> masters = cluster.masters();
    cluster.reshard(masters.get(0).port(), masters.get(1).port(), 2_000);
    reader.refreshPartitions();

    List<Throwable> retried = applyAsTheStreamWould(rows(SECOND), SECOND, FIRST);

    // The writer reads the topology again after a write met a slot its master no longer serves,
    // and the batch is retried (Lettuce's own view, refreshed every 10 s, may still be the old
    // one).
    assertThat(retried)
        .as("one read of the topology after the failure suffices")
        .hasSizeLessThan(2);
    assertRowsHeld(SECOND);
    assertShardPositions(SECOND);
    assertThat(writer.position()).contains(SECOND);
  }

  @Test
  void aMasterFailedOverGracefully_theBatchGoesOnOnTheReplicaThatTookOver() {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    cluster.failover(cluster.masters().get(2).port());
    reader.refreshPartitions();

    applyAsTheStreamWould(rows(SECOND), SECOND, FIRST);

    assertRowsHeld(SECOND);
    assertShardPositions(SECOND);
  }

  @Test
  void aMasterThatRestartedEmpty_isNoticedAsARollback_notWrittenOver() {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    // A master other than the state's, whose position hash stays.
    Node emptied =
        cluster.masters().stream()
            .filter(master -> !master.owns(SlotHash.getSlot(STATE + "position")))
            .findFirst()
            .orElseThrow();
    cluster.restartMasterEmpty(emptied.port());

    assertThatThrownBy(() -> applyAsTheStreamWould(rows(SECOND), SECOND, FIRST))
        .isInstanceOf(CacheRolledBackException.class);
    // The batch's position is not stored; and with a master that holds no shard key at all, the
    // position a restart resumes from is none: it loads every table again.
    assertThat(redis.hget(STATE + "position", "version")).isEqualTo(FIRST.text());
    assertThat(writer.position()).isEmpty();
  }

  @Test
  void aMasterThatGainedASlotBelowItsLowest_andRestartedEmpty_isNoticedAsARollback() {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    // The one that gains a lower slot is not the state's master.
    List<Node> masters = mastersByLowestSlot();
    int state = SlotHash.getSlot(STATE + "position");
    Node gainer = masters.get(2).owns(state) ? masters.get(1) : masters.get(2);
    Node source = masters.get(0);
    // A slot of the source, not its lowest, that no key of the test uses: its shard key is the
    // gainer's new one, which holds nothing, so the position script has nothing to compare with.
    java.util.Set<Integer> used = slotsOf(rows(FIRST));
    int gainersLowest = gainer.slots().get(0).first();
    int slot = source.slots().get(0).first() + 1;
    while (!source.owns(slot) || used.contains(slot) || slot == state) {
      slot++;
    }
    assertThat(slot).as("a slot below the gainer's lowest").isLessThan(gainersLowest);
    cluster.moveEmptySlot(slot, gainer.port());
    // The writer sees the move before any batch: the gainer's shard key is now the new one, which
    // holds nothing; then the gainer restarts empty.
    reader.refreshPartitions();
    writer.readTopologyNow();
    assertThat(writer.shardKeys()).containsValue(SHARDS + "{" + SlotTags.tag(slot) + "}");
    cluster.restartMasterEmpty(gainer.port());

    // Without the check of a new shard key, the batch stored the gainer's position in its new key
    // (nothing there to compare with) and nothing noticed that it lost every row it held.
    assertThatThrownBy(() -> applyAsTheStreamWould(rows(SECOND), SECOND, FIRST))
        .isInstanceOf(CacheRolledBackException.class)
        .hasMessageContaining(gainer.address());
    assertThat(redis.hget(STATE + "position", "version")).isEqualTo(FIRST.text());
  }

  /**
   * A restart after a batch one master stored and another did not, with a slot of the second now on
   * the first: that master serves slots at two positions. Each key's change is skipped as held by
   * its own slot's position. Decided by the least of the master's slots, the replay wrote again a
   * key the master's own later change had deleted: a row that showed again, for a moment, after its
   * DELETE (ClusterFaultScheduleIT's regressions while slots moved).
   */
  @Test
  void aMasterServingSlotsAtTwoPositions_replaysEachKeyFromItsOwnSlotsPosition() throws Exception {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    int state = SlotHash.getSlot(STATE + "position");
    // The master of the lowest slots gains one of another's: its shard key stays.
    Node gainer = mastersByLowestSlot().get(0);
    Node behind = mastersByLowestSlot().get(1);
    int id = 0;
    while (ownerOf("user:" + id) != gainer.port()) {
      id++;
    }
    String deleted = "user:" + id;
    String behindKey = writer.shardKeys().get(behind.address());
    Map<String, String> positionAfterFirst = redis.hgetall(STATE + "position");
    Map<String, String> behindAfterFirst = onNode(behind, node -> node.hgetall(behindKey));

    // A row updated, then deleted, within one batch, which every master but one stored.
    Version updated = new Version(0x170, 0x17);
    Version deletedAt = new Version(0x180, 0x18);
    writer.apply(
        List.of(user(id, updated), new Evict(USERS, deleted, deletedAt)), deletedAt, FIRST);
    assertThat(redis.exists(deleted)).isZero();
    redis.hset(STATE + "position", positionAfterFirst);
    onNode(behind, node -> node.hset(behindKey, behindAfterFirst));
    // One of the lagging master's slots, holding no key, moves to the master that stored it.
    java.util.Set<Integer> used = slotsOf(rows(FIRST));
    String moved = null;
    for (int i = 0; moved == null; i++) {
      int slot = SlotHash.getSlot("moved:" + i);
      if (behind.owns(slot)
          && slot != behind.slots().get(0).first()
          && slot != state
          && !used.contains(slot)) {
        moved = "moved:" + i;
      }
    }
    cluster.moveEmptySlot(SlotHash.getSlot(moved), gainer.port());
    reader.refreshPartitions();
    writer.close();
    writer = ClusterCacheWriter.connect(new RedisSettings(cluster.uri()), STATE, SHARDS);

    // The stream resumes from the batches' position, in batches cut elsewhere: the update alone.
    writer.apply(List.of(user(id, updated), docOn(moved, updated)), updated, FIRST);

    // The writer saw the move: it wrote the moved slot's key on the gainer, through its own
    // connection to it (which follows no MOVED), so the gainer served slots at two positions.
    String movedKey = moved;
    long onGainer = onNode(gainer, node -> node.exists(movedKey));
    assertThat(onGainer).as("%s written on the gainer %s", moved, gainer.address()).isEqualTo(1L);
    assertThat(redis.exists(deleted))
        .as("%s, deleted by a change its slot's master holds, written again", deleted)
        .isZero();
    assertThat(redis.get(moved))
        .as("the moved slot's key: its slot holds only the lagging master's position")
        .contains(updated.text());
  }

  /** The slots of the keys {@code rows} write. */
  private static java.util.Set<Integer> slotsOf(List<CacheOperation> rows) {
    java.util.Set<Integer> slots = new java.util.HashSet<>();
    for (CacheOperation row : rows) {
      slots.add(SlotHash.getSlot(((Write) row).key()));
    }
    return slots;
  }

  private static Write docOn(String key, Version version) {
    return doc(key, "on the moved slot", version);
  }

  /** Runs {@code command} on {@code master} itself (a cluster client would follow a MOVED). */
  private static <T> T onNode(
      Node master,
      java.util.function.Function<io.lettuce.core.api.sync.RedisCommands<String, String>, T>
          command) {
    RedisClient client = RedisClient.create("redis://" + master.address());
    try (StatefulRedisConnection<String, String> node = client.connect()) {
      return command.apply(node.sync());
    } finally {
      client.shutdown();
    }
  }

  /**
   * The late-delivery fence on every master (LateDeliveryIT on one): a connection of this writer
   * that dropped on its side but is still open on the master's, holding the start of a transaction
   * whose end a broken network delivers late. The writer opens new connections to the master and
   * applies the next batch, which deletes the row; the late end then must not run.
   */
  @Test
  void aTransactionDeliveredLateOnAConnectionTheWriterDropped_neverRunsAfterTheRetry()
      throws Exception {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    Node master = cluster.node(ownerOf("user:5"));
    String name = writer.clientName();
    try (java.net.Socket late = new java.net.Socket("127.0.0.1", master.port())) {
      late.setSoTimeout(10_000);
      java.io.OutputStream out = late.getOutputStream();
      java.io.BufferedReader in =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(
                  late.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
      // The connection carries the writer's name, as all its connections do, and holds a
      // transaction whose EXEC has not arrived yet.
      send(out, "CLIENT", "SETNAME", name);
      send(out, "MULTI");
      send(out, "HSET", "user:5", "__v", FIRST.text(), "name", "delivered late");
      assertThat(in.readLine()).isEqualTo("+OK");
      assertThat(in.readLine()).isEqualTo("+OK");
      assertThat(in.readLine()).isEqualTo("+QUEUED");
      // The writer's own connections to that master drop.
      for (long id : writerConnections(master, name)) {
        if (id != clientId(master, late)) {
          cluster.command(master.port(), "CLIENT", "KILL", "ID", Long.toString(id));
        }
      }

      // The writer opens new connections to the master (at once, or after the batch failed on
      // the dropped ones) and applies the batch that deletes the row.
      applyAsTheStreamWould(List.of(new Evict(USERS, "user:5", SECOND)), SECOND, FIRST);
      assertThat(redis.exists("user:5")).isZero();

      // The late end of the transaction arrives.
      String reply;
      try {
        send(out, "EXEC");
        reply = in.readLine();
      } catch (java.io.IOException e) {
        reply = null; // the master closed the connection: nothing it held ran
      }
      assertThat(reply).as("the late EXEC's reply").isNull();
      assertThat(redis.exists("user:5")).as("user:5, deleted, written back late").isZero();
    }
  }

  /** The ids of the connections named {@code name} on the master. */
  private static List<Long> writerConnections(Node master, String name) {
    return clientIds(master, " name=" + name + " ");
  }

  /** The id of the raw connection {@code socket}, found by its local port. */
  private static long clientId(Node master, java.net.Socket socket) {
    return clientIds(master, ":" + socket.getLocalPort() + " ").stream()
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("the raw connection is not listed on " + master.address()));
  }

  /** The ids of the master's connections whose CLIENT LIST line holds {@code text}. */
  private static List<Long> clientIds(Node master, String text) {
    String list = onNode(master, node -> node.clientList());
    List<Long> ids = new ArrayList<>();
    for (String line : list.split("\n")) {
      if (line.contains(text)) {
        ids.add(Long.parseLong(line.substring(3, line.indexOf(' '))));
      }
    }
    return ids;
  }

  private static void send(java.io.OutputStream out, String... arguments)
      throws java.io.IOException {
    StringBuilder command = new StringBuilder("*").append(arguments.length).append("\r\n");
    for (String argument : arguments) {
      byte[] bytes = argument.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      command.append('$').append(bytes.length).append("\r\n").append(argument).append("\r\n");
    }
    out.write(command.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    out.flush();
  }

  @Test
  void aTruncate_evictsTheTablesKeysOnEveryMaster_andTheOtherTablesStay() {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    EvictTable truncate = new EvictTable(USERS, KeyTemplate.parse("user:{id}"), SECOND);

    BatchOutcome outcome = writer.apply(List.of(truncate), SECOND, FIRST);

    assertThat(outcome.evicted()).isEqualTo(ROWS);
    for (int i = 0; i < ROWS; i++) {
      assertThat(redis.exists("user:" + i)).as("user:" + i).isZero();
    }
    for (int i = 0; i < ROWS / 6; i++) {
      assertThat(redis.get("doc:" + i)).startsWith("{\"__v\":\"" + FIRST.text() + "\"");
    }
    assertShardPositions(SECOND);
    assertThat(writer.position()).contains(SECOND);
  }

  @Test
  void aDaemonPausedPastItsLease_writesNothingOnceAnotherClaimedTheShards() throws Exception {
    redis.set(STATE + "writer", "daemon-a");
    try (ClusterCacheWriter paused =
        ClusterCacheWriter.connect(new RedisSettings(cluster.uri()), STATE, SHARDS, "daemon-a")) {
      paused.apply(rows(FIRST), FIRST, Version.ZERO);
      // daemon-a stalls; its lease expires and daemon-b takes the role.
      redis.set(STATE + "writer", "daemon-b");
      try (ClusterCacheWriter active =
          ClusterCacheWriter.connect(new RedisSettings(cluster.uri()), STATE, SHARDS, "daemon-b")) {

        assertThatThrownBy(() -> paused.apply(rows(THIRD), THIRD, FIRST))
            .isInstanceOf(io.cachesync.sync.WriterRoleLostException.class);
        assertRowsHeld(FIRST);

        active.apply(rows(SECOND), SECOND, FIRST);
        assertRowsHeld(SECOND);
      }
    }
  }

  @Test
  void aDaemonWhoseLeaseIsTakenWhileItClaims_stopsBeforeWriting() throws Exception {
    redis.set(STATE + "writer", "daemon-a");
    try (ClusterCacheWriter late =
        ClusterCacheWriter.connect(new RedisSettings(cluster.uri()), STATE, SHARDS, "daemon-a")) {
      late.apply(rows(FIRST), FIRST, Version.ZERO);
      // Another daemon claimed the shards: daemon-a's next batch is refused, and it claims them
      // again, having read the lease as its own; daemon-b takes the lease and claims the shards in
      // between (daemon-a paused), and daemon-a's claims then overwrite daemon-b's.
      for (String shardKey : late.shardKeys().values()) {
        redis.hset(shardKey, "owner", "daemon-x");
      }
      late.beforeClaims(
          () -> {
            redis.set(STATE + "writer", "daemon-b");
            for (String shardKey : late.shardKeys().values()) {
              redis.hset(shardKey, "owner", "daemon-b");
            }
          });

      assertThatThrownBy(() -> late.apply(rows(SECOND), SECOND, FIRST))
          .isInstanceOf(io.cachesync.sync.WriterRoleLostException.class);
      assertRowsHeld(FIRST);
      // Its claims given back, so that no other writer of daemon-a passes on those masters.
      for (String shardKey : late.shardKeys().values()) {
        assertThat(redis.hget(shardKey, "owner")).as(shardKey).isEqualTo("daemon-b");
      }
    }
  }

  @Test
  void aMasterThatRestartedEmpty_andTookAnotherMastersShardKeyWithItsLowestSlot_isNoticed() {
    writer.apply(rows(FIRST), FIRST, Version.ZERO);
    List<Node> masters = mastersByLowestSlot();
    int state = SlotHash.getSlot(STATE + "position");
    Node emptied = masters.get(2).owns(state) ? masters.get(1) : masters.get(2);
    Node giver = masters.get(0).owns(state) ? masters.get(1) : masters.get(0);
    assertThat(giver.slots().get(0).first()).isLessThan(emptied.slots().get(0).first());
    cluster.restartMasterEmpty(emptied.port());
    // The giver's lowest slot, with its shard key (holding FIRST), moves to the emptied master,
    // whose shard key is then that one: the position script finds there what it acknowledged.
    cluster.reshard(giver.port(), emptied.port(), 1);

    // The writer reads the new topology before any batch (a batch on the old one would find the
    // emptied master's own key gone, and fail as a rollback too).
    assertThatThrownBy(writer::readTopologyNow)
        .isInstanceOf(CacheRolledBackException.class)
        .hasMessageContaining(emptied.address());
    assertThat(redis.hget(STATE + "position", "version")).isEqualTo(FIRST.text());
  }

  @Test
  void theLeaseHolder_claimsAShardKeyAnotherClaimed_andGoesOn() throws Exception {
    redis.set(STATE + "writer", "daemon-b");
    try (ClusterCacheWriter active =
        ClusterCacheWriter.connect(new RedisSettings(cluster.uri()), STATE, SHARDS, "daemon-b")) {
      for (String shardKey : active.shardKeys().values()) {
        redis.hset(shardKey, "owner", "daemon-a");
      }

      active.apply(rows(FIRST), FIRST, Version.ZERO);

      assertRowsHeld(FIRST);
      for (String shardKey : active.shardKeys().values()) {
        assertThat(redis.hget(shardKey, "owner")).isEqualTo("daemon-b");
      }
    }
  }

  /**
   * Inside a shard's MULTI a failed script does not stop the scripts queued after it: a row of a
   * slot the node does not serve must leave the shard's position where it was, with no mark left
   * for the next batch.
   */
  @Test
  void aRowTheNodeDoesNotServe_failsItsShardsPosition_inTheSameTransaction() {
    Node master = cluster.masters().get(0);
    int slot = master.slots().get(0).first();
    String shardKey = SHARDS + "{" + SlotTags.tag(slot) + "}";
    String local = keyIn(master, true);
    String foreign = keyIn(master, false);
    RedisClient client = RedisClient.create("redis://127.0.0.1:" + master.port());
    try (StatefulRedisConnection<String, String> node = client.connect()) {
      WriterScripts scripts = WriterScripts.loadForShard(node.sync(), shardKey);
      RedisAsyncCommands<String, String> async = node.async();
      async.multi();
      var first =
          async.dispatch(
              io.lettuce.core.protocol.CommandType.EVALSHA,
              new io.lettuce.core.output.StatusOutput<>(io.lettuce.core.codec.StringCodec.UTF8),
              scripts
                  .call("write_json", local)
                  .add(FIRST.text())
                  .add("0")
                  .add("{\"__v\":\"" + FIRST.text() + "\"}")
                  .add(""));
      var second =
          async.dispatch(
              io.lettuce.core.protocol.CommandType.EVALSHA,
              new io.lettuce.core.output.StatusOutput<>(io.lettuce.core.codec.StringCodec.UTF8),
              scripts.call("evict", foreign).add(FIRST.text()));
      var stored =
          async.evalsha(
              scripts.digest("store_shard_position"),
              ScriptOutputType.STATUS,
              new String[] {shardKey},
              Version.ZERO.text(),
              FIRST.text(),
              FIRST.toString(),
              "now");
      TransactionResult result = node.sync().exec();

      assertThat(result.wasDiscarded()).isFalse();
      assertThat(result.<String>get(0)).isEqualTo("written");
      assertThat(String.valueOf((Object) result.get(1))).contains("non local key");
      assertThat(result.<String>get(2)).startsWith("failed:").contains("non local key");
      assertThat(node.sync().hgetall(shardKey)).isEmpty();
      assertThat(first.isDone() && second.isDone() && stored.isDone()).isTrue();
    } finally {
      client.shutdown();
    }
  }

  /** What the stream does with a batch: retry it while Redis is unavailable; the failures seen. */
  private List<Throwable> applyAsTheStreamWould(
      List<CacheOperation> batch, Version position, Version acknowledged) {
    List<Throwable> failures = new ArrayList<>();
    for (int attempt = 0; ; attempt++) {
      try {
        writer.apply(batch, position, acknowledged);
        return failures;
      } catch (RedisUnavailableException e) {
        failures.add(e);
        if (attempt == 20) {
          throw e;
        }
        cluster.awaitStable();
      }
    }
  }

  private static List<CacheOperation> rows(Version version) {
    List<CacheOperation> rows = new ArrayList<>();
    for (int i = 0; i < ROWS; i++) {
      rows.add(user(i, version));
    }
    for (int i = 0; i < ROWS / 6; i++) {
      Map<String, ColumnValue> values = new LinkedHashMap<>();
      values.put("id", new ColumnValue.Number(Integer.toString(i)));
      values.put("body", ColumnValue.text("doc " + i));
      rows.add(new Write(DOCS, "doc:" + i, ValueFormat.JSON, values, version, Optional.empty()));
    }
    return rows;
  }

  /**
   * ClusterFaultScheduleIT's catch-up batches (seed -5738241568518600102): a row moves out of
   * doc:45 on its master, and a later change of the same batch moves another row into doc:45 from a
   * key on another master, which the writer sends ahead of the batch; the first move then found the
   * later row in doc:45, evicted its own new key, and the later changes to that row kept it
   * missing.
   */
  @Test
  void aMoveOutOfAKey_andALaterMoveIntoItFromAnotherMaster_inOneBatch_keepBothBodies() {
    // Three keys on one master (as doc:81, doc:45, doc:49 were), one on another (doc:99).
    Map<Integer, List<String>> byMaster = new LinkedHashMap<>();
    for (int i = 0; byMaster.values().stream().noneMatch(keys -> keys.size() == 3); i++) {
      byMaster.computeIfAbsent(ownerOf("doc:" + i), port -> new ArrayList<>()).add("doc:" + i);
    }
    List<String> one =
        byMaster.values().stream().filter(keys -> keys.size() == 3).findFirst().orElseThrow();
    String first = one.get(0);
    String middle = one.get(1);
    String last = one.get(2);
    String other = "doc:other";
    for (int i = 0; ownerOf(other) == ownerOf(middle); i++) {
      other = "doc:other" + i;
    }
    writer.apply(List.of(doc(other, "C", FIRST)), FIRST, Version.ZERO);
    Version v1 = new Version(0x200, 0x21);
    Version v2 = new Version(0x200, 0x22);
    Version v3 = new Version(0x200, 0x23);
    Version v4 = new Version(0x200, 0x24);
    List<CacheOperation> batch =
        List.of(
            doc(first, "B", v1), // INSERT
            kept(middle, v2).mergingFrom(first), // a move on one master
            new Evict(DOCS, first, v2),
            kept(last, v3).mergingFrom(middle), // the same row moves again, on that master
            new Evict(DOCS, middle, v3),
            kept(middle, v4).mergingFrom(other), // another row moves in, from another master
            new Evict(DOCS, other, v4));
    BatchOutcome outcome = writer.apply(batch, v4, FIRST);

    assertThat(outcome.failures()).isEmpty();
    assertThat(redis.get(last)).contains("\"body\":\"B\"");
    assertThat(redis.get(middle)).contains("\"body\":\"C\"");
    assertThat(redis.exists(first, other)).isZero();
  }

  /** The masters, by their lowest slot. */
  private static List<Node> mastersByLowestSlot() {
    return cluster.masters().stream()
        .sorted(java.util.Comparator.comparingInt(master -> master.slots().get(0).first()))
        .toList();
  }

  /** The port of the master that serves {@code key}'s slot. */
  private static int ownerOf(String key) {
    int slot = SlotHash.getSlot(key);
    return cluster.masters().stream()
        .filter(master -> master.owns(slot))
        .findFirst()
        .orElseThrow()
        .port();
  }

  private static Write doc(String key, String body, Version version) {
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    values.put("title", ColumnValue.text("t " + version.text()));
    values.put("body", ColumnValue.text(body));
    return new Write(DOCS, key, ValueFormat.JSON, values, version, Optional.empty());
  }

  private static Write kept(String key, Version version) {
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    values.put("title", ColumnValue.text("t " + version.text()));
    values.put("body", ColumnValue.UNCHANGED);
    return new Write(DOCS, key, ValueFormat.JSON, values, version, Optional.empty());
  }

  private static Write user(int id, Version version) {
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    values.put("id", new ColumnValue.Number(Integer.toString(id)));
    values.put("name", ColumnValue.text("user " + id + " at " + version.text()));
    return new Write(USERS, "user:" + id, ValueFormat.HASH, values, version, Optional.empty());
  }

  private static void assertRowsHeld(Version version) {
    for (int i = 0; i < ROWS; i++) {
      assertThat(redis.hgetall("user:" + i))
          .as("user:" + i)
          .containsExactlyInAnyOrderEntriesOf(
              Map.of(
                  "__v",
                  version.text(),
                  "id",
                  Integer.toString(i),
                  "name",
                  "user " + i + " at " + version.text()));
    }
    for (int i = 0; i < ROWS / 6; i++) {
      assertThat(redis.get("doc:" + i))
          .isEqualTo(
              "{\"__v\":\"" + version.text() + "\",\"id\":" + i + ",\"body\":\"doc " + i + "\"}");
    }
  }

  /** Each master that serves slots holds its shard key, at {@code version}, in a slot it serves. */
  private void assertShardPositions(Version version) {
    List<Node> masters = cluster.masters();
    assertThat(writer.shardKeys()).hasSize(masters.size());
    for (Map.Entry<String, String> shard : writer.shardKeys().entrySet()) {
      Node master =
          masters.stream()
              .filter(node -> node.address().equals(shard.getKey()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no master " + shard.getKey()));
      assertThat(master.owns(SlotHash.getSlot(shard.getValue()))).isTrue();
      Map<String, String> held = onNode(master, node -> node.hgetall(shard.getValue()));
      assertThat(held)
          .as("shard key %s on %s", shard.getValue(), shard.getKey())
          .containsEntry("version", version.text())
          .doesNotContainKey("failed");
    }
  }

  /** A key of a slot {@code master} serves ({@code served}) or does not. */
  private static String keyIn(Node master, boolean served) {
    for (int i = 0; ; i++) {
      String key = "probe:" + i;
      if (master.owns(SlotHash.getSlot(key)) == served) {
        return key;
      }
    }
  }
}
