package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Reject;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.DisplayText;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.CacheWriter;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.sync.WriterRoleLostException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies cache operations to a Redis Cluster: each batch is split by the master that serves each
 * key's slot, and each master's part is applied as on one master ({@link BatchTransaction}), in one
 * MULTI/EXEC of version-guarded scripts that ends with that shard's own position, all masters at
 * once. Only when every shard acknowledged its part is the batch's position stored in the
 * synchronizer's position hash, on the master of the state's slot: what the daemon reads and
 * publishes as the batch's position.
 *
 * <p><b>A shard's position</b> is stored on every master with every batch, so that each master's
 * shows how far it holds the stream, and lives in the shard key, {@code
 * cachesync:<name>:shard:{tag}}, a hash whose hash tag puts it in a slot of that shard's master
 * (the master's lowest slot), and is stored in the same transaction as that master's writes (see
 * {@link ShardScripts}): it replicates with them, so a replica promoted after a failover holds the
 * writes exactly up to its shard key's position. A shard holding less than this writer saw it
 * acknowledge lost acknowledged writes, and the batch fails with {@link CacheRolledBackException},
 * as on one master.
 *
 * <p><b>Topology.</b> A key whose slot moved, or a master gone, fails that master's transaction
 * (Redis refuses a key the node does not serve, and the failed row keeps the shard's position where
 * it was); the writer then reads the topology again, and the retry splits the batch anew. Writing
 * the same batch again is safe: every write is versioned.
 *
 * <p><b>Not yet</b> (the design is in docs/design/redis-cluster.md): a TRUNCATE's evictions run
 * within the batch, on every master, with no background part; a shard key is not moved when its
 * master's lowest slot moves.
 */
public final class ClusterCacheWriter implements CacheWriter {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterCacheWriter.class);

  private final RedisSettings settings;
  private final RedisClusterClient client;
  private final StatefulRedisClusterConnection<String, String> routed;
  private final String positionKey;
  private final String truncatesKey;
  private final String appliedChannel;
  private final String shardKeyPrefix;
  private final String clientName = "cachesync-writer-" + UUID.randomUUID();
  private final ExecutorService shardThreads =
      Executors.newCachedThreadPool(
          task -> {
            Thread thread = new Thread(task, "cachesync-shard-writer");
            thread.setDaemon(true);
            return thread;
          });

  /** What follows the shard key prefix in a shard key: a hash tag of {@link SlotTags}. */
  private static final java.util.regex.Pattern SHARD_KEY =
      java.util.regex.Pattern.compile("\\{[0-9a-z]+\\}");

  /** The masters' shards, by node id. */
  private final Map<String, Shard> shards = new LinkedHashMap<>();

  /**
   * The shard of each hash slot, by slot, as {@link #useTopology} last saw the topology: a batch is
   * split on this one view, which Lettuce's topology refresh (in the background) does not change
   * under it. Null for a slot no master serves.
   */
  private Shard[] bySlot = new Shard[HashSlots.COUNT];

  /**
   * How far the stream's changes are applied to the keys of each hash slot, by slot: the furthest
   * position a master stored while it served the slot (each shard key keeps the slots it was stored
   * for), read from every shard key at connect and raised as masters store theirs. A master applied
   * every change up to its position to the keys of the slots it served, and a slot that moves takes
   * its keys along, so its later owner holds at least that. Lowered, for the slots of a master that
   * holds less than the batches' position (it lost writes), to what it holds. A change is skipped
   * when its key's slot holds it ({@link #held}).
   */
  private final Version[] slotPositions = zeros();

  private static Version[] zeros() {
    Version[] positions = new Version[HashSlots.COUNT];
    java.util.Arrays.fill(positions, Version.ZERO);
    return positions;
  }

  /** The position each shard key was last seen to hold, by shard key. */
  private final Map<String, Version> acknowledgedByShard = new HashMap<>();

  private String storePositionDigest;

  /** evict.lua as one master runs it, loaded on every node: for a TRUNCATE's routed evictions. */
  private String evictDigest;

  /** Walks the keyspace of every master (a TRUNCATE's keys). */
  private final ClusterKeyspace keyspace;

  private boolean refreshNeeded;

  /** The writer's lease, on the state's slot. */
  private final String leaseKey;

  /** The lease owner this writer writes for; null for a writer no lease guards. */
  private final String leaseOwner;

  private ClusterCacheWriter(
      RedisSettings settings,
      RedisClusterClient client,
      StatefulRedisClusterConnection<String, String> routed,
      String stateKeyPrefix,
      String shardKeyPrefix,
      String leaseOwner) {
    this.leaseKey = stateKeyPrefix + "writer";
    this.leaseOwner = leaseOwner;
    this.settings = settings;
    this.client = client;
    this.routed = routed;
    this.positionKey = stateKeyPrefix + "position";
    this.truncatesKey = stateKeyPrefix + "truncates";
    this.appliedChannel = stateKeyPrefix + "applied";
    this.shardKeyPrefix = shardKeyPrefix;
    this.keyspace = new ClusterKeyspace(client, routed);
  }

  /**
   * Connects to the cluster the settings name and to each of its masters.
   *
   * @param stateKeyPrefix where the synchronizer's own keys live, under one hash tag, e.g. {@code
   *     {cachesync:shop}:}: its position hash is read and written with others in one script
   * @param shardKeyPrefix what each shard key starts with, e.g. {@code cachesync:shop:shard:}
   */
  public static ClusterCacheWriter connect(
      RedisSettings settings, String stateKeyPrefix, String shardKeyPrefix)
      throws ServerUnreachableException {
    return connect(settings, stateKeyPrefix, shardKeyPrefix, null);
  }

  /**
   * As {@link #connect(RedisSettings, String, String)}, for the daemon holding the writer's lease
   * as {@code leaseOwner}: it claims every shard key for that owner, and each row script runs only
   * while its shard key names that owner.
   *
   * <p>Why a claim in each shard key: on one master each batch WATCHes and reads the lease with the
   * position; on a cluster the lease lives on the state's master, where no shard's transaction can
   * read it. So the daemon that holds the lease writes its owner into each shard key, and each row
   * script checks it there, in the shard's transaction. A daemon paused past its lease resumes to
   * find its batch refused (FENCED) on every shard the new holder claimed; it then reads the lease
   * itself, finds another owner and stops. The holder of the lease, refused on a shard key another
   * claimed (or on a new master's key), claims it again and retries.
   */
  public static ClusterCacheWriter connect(
      RedisSettings settings, String stateKeyPrefix, String shardKeyPrefix, String leaseOwner)
      throws ServerUnreachableException {
    RedisClusterClient client = LettuceClients.cluster(settings);
    try {
      ClusterCacheWriter writer =
          new ClusterCacheWriter(
              settings,
              client,
              client.connect(),
              stateKeyPrefix,
              shardKeyPrefix,
              Boolean.getBoolean(LettuceCacheWriter.UNSAFE_NO_LEASE_FENCE) ? null : leaseOwner);
      try {
        writer.loadScripts();
        writer.useTopology();
        writer.claimIfHeld();
        writer.readSlotPositions();
      } catch (RuntimeException e) {
        writer.close();
        throw e;
      }
      return writer;
    } catch (RedisConnectionException e) {
      client.shutdown();
      throw LettuceClients.connectFailed(settings, e);
    } catch (RuntimeException e) {
      client.shutdown();
      throw e;
    }
  }

  /** The smallest proto-max-bulk-len of the masters: the largest value a write may send. */
  public long maxValueBytes() {
    return shards.values().stream()
        .mapToLong(shard -> shard.transaction.maxValueBytes())
        .min()
        .orElse(512L * 1024 * 1024);
  }

  /** The name this writer gives its connections in Redis: for the tests. */
  String clientName() {
    return clientName;
  }

  /** The shard keys of the masters, by the master's {@code host:port}: for the tests. */
  Map<String, String> shardKeys() {
    Map<String, String> keys = new LinkedHashMap<>();
    shards.values().forEach(shard -> keys.put(shard.host + ":" + shard.port, shard.key));
    return keys;
  }

  /**
   * Opens a shard for each master the client's view of the topology shows serving slots, keeping
   * those whose master, address and shard key are unchanged and whose connections are open.
   */
  private void useTopology() {
    Map<String, Shard> current = new LinkedHashMap<>();
    // One read of the view: Lettuce's background refresh may replace it meanwhile.
    List<RedisClusterNode> partitions = new ArrayList<>();
    client.getPartitions().forEach(partitions::add);
    for (RedisClusterNode node : partitions) {
      if (!node.is(RedisClusterNode.NodeFlag.UPSTREAM) || node.getSlots().isEmpty()) {
        continue;
      }
      int lowest = node.getSlots().stream().mapToInt(Integer::intValue).min().orElseThrow();
      String key = shardKeyPrefix + "{" + SlotTags.tag(lowest) + "}";
      String host = node.getUri().getHost();
      int port = node.getUri().getPort();
      String slots = slotRanges(node.getSlots());
      Shard known = shards.remove(node.getNodeId());
      if (known != null && known.serves(host, port, key)) {
        known.slots = slots;
        current.put(node.getNodeId(), known);
        continue;
      }
      if (known != null) {
        known.close();
      }
      try {
        // Whether this writer saw a position acknowledged in the key, before the shard reads it.
        boolean knownKey = acknowledgedByShard.containsKey(key);
        Shard created = new Shard(node.getNodeId(), host, port, key, slots);
        current.put(node.getNodeId(), created);
        requireHeld(created, knownKey, keyByNode.get(node.getNodeId()), node.getSlots());
      } catch (RuntimeException e) {
        // A master that cannot be reached or refuses the login: nothing opened so far is kept,
        // and the next batch reads the topology again.
        current.values().forEach(Shard::close);
        shards.values().forEach(Shard::close);
        shards.clear();
        refreshNeeded = true;
        throw e;
      }
    }
    shards.values().forEach(Shard::close);
    shards.clear();
    shards.putAll(current);
    Shard[] routes = new Shard[HashSlots.COUNT];
    for (RedisClusterNode node : partitions) {
      Shard shard = shards.get(node.getNodeId());
      if (shard != null) {
        node.getSlots().forEach(slot -> routes[slot] = shard);
      }
    }
    bySlot = routes;
  }

  /**
   * The last shard key, by master (node id), that this writer saw the master acknowledge a position
   * in: kept when its shard is closed after a failure, so that the master is checked against it
   * when its key changes (a new key holds nothing until its first batch).
   */
  private final Map<String, String> keyByNode = new HashMap<>();

  /**
   * Fails, as a rollback, when a master whose shard key changed holds less than this writer saw it
   * acknowledge. Each batch's own check (the position script's) compares a master with what its
   * shard key held, which tells nothing when the key changed: the master gained a slot below its
   * lowest (with no write of this writer failing), then restarted empty or failed over to a replica
   * that was behind; the new key may be new, or one that came with the slot from another master. So
   * before anything is stored in it: the master's last acknowledged key, while the master still
   * serves that key's slot, holds what it acknowledged (read on the master, or where the slot went
   * if this view is behind); and a key new to this writer is checked against every shard key found
   * on the master.
   *
   * @param knownKey whether this writer saw a position acknowledged in the new key before
   * @param previousKey the master's last acknowledged shard key, if this writer knew the master
   * @throws CacheRolledBackException when the master lost acknowledged writes
   */
  private void requireHeld(
      Shard created, boolean knownKey, String previousKey, List<Integer> slots) {
    if (previousKey != null
        && !previousKey.equals(created.key)
        && slots.contains(SlotHash.getSlot(previousKey))
        && acknowledgedByShard.containsKey(previousKey)) {
      Version acknowledged = acknowledgedByShard.get(previousKey);
      String held = created.storedVersion(previousKey);
      if (held == null) {
        // Not on the master: the slot may be on its way to another (this view is behind), and
        // the routed read follows it there.
        held = routed.sync().hget(previousKey, "version");
      }
      if (held == null || Version.parse(held).compareTo(acknowledged) < 0) {
        throw lost(created, previousKey, acknowledged, held == null ? "none" : held);
      }
    }
    if (knownKey) {
      return; // the position script compares the key itself with every batch
    }
    for (Map.Entry<String, Version> key : created.storedVersions().entrySet()) {
      Version acknowledged = acknowledgedByShard.get(key.getKey());
      if (acknowledged != null && key.getValue().compareTo(acknowledged) < 0) {
        throw lost(created, key.getKey(), acknowledged, key.getValue().text());
      }
    }
  }

  private static CacheRolledBackException lost(
      Shard shard, String key, Version acknowledged, String held) {
    LOG.warn(
        "The Redis master {}:{} holds {} in shard key {}, where it acknowledged {}: it lost"
            + " acknowledged writes (it restarted without its data, or failed over to a replica"
            + " that was behind) while its shard key changed",
        shard.host,
        shard.port,
        held,
        key,
        acknowledged);
    return new CacheRolledBackException(
        acknowledged, held + " (" + shard.host + ":" + shard.port + ")");
  }

  /**
   * Forgets the position every master holds, for a reload: the stream starts again on a new slot,
   * whose changes may be numbered below the old positions (a restored PostgreSQL), and a master
   * must not skip them as held. The owner claimed in each shard key stays.
   */
  public void forgetShardPositions() {
    try {
      for (Shard shard : shards.values()) {
        for (String key : shard.shardKeys()) {
          shard.direct.sync().hdel(key, "version", "lsn", "at", "slots");
        }
      }
      java.util.Arrays.fill(slotPositions, Version.ZERO);
      acknowledgedByShard.clear();
    } catch (RedisException e) {
      throw LettuceClients.unavailable(e);
    }
  }

  /**
   * Reads every shard key on every master into {@link #slotPositions}, lowered for the masters that
   * hold less than the batches' position.
   */
  private void readSlotPositions() {
    java.util.Arrays.fill(slotPositions, Version.ZERO);
    String stored = routed.sync().hget(positionKey, "version");
    Map<Shard, Optional<Version>> furthest = new LinkedHashMap<>();
    for (Shard shard : shards.values()) {
      List<Map.Entry<Version, String>> positions = shard.storedPositions();
      for (Map.Entry<Version, String> position : positions) {
        raise(position.getValue(), position.getKey());
      }
      furthest.put(shard, positions.stream().map(Map.Entry::getKey).max(Version::compareTo));
    }
    if (stored == null) {
      return;
    }
    Version batches = Version.parse(stored);
    furthest.forEach(
        (shard, held) -> {
          if (held.isEmpty() || held.get().compareTo(batches) < 0) {
            BitSet slots = HashSlots.parse(shard.slots).slots();
            Version lowered = held.orElse(Version.ZERO);
            for (int slot = slots.nextSetBit(0); slot >= 0; slot = slots.nextSetBit(slot + 1)) {
              if (slotPositions[slot].compareTo(lowered) > 0) {
                slotPositions[slot] = lowered;
              }
            }
          }
        });
  }

  /** Raises {@link #slotPositions} of {@code slots} ({@link #slotRanges}) to {@code position}. */
  private void raise(String slots, Version position) {
    if (slots.isEmpty()) {
      return;
    }
    BitSet bits = HashSlots.parse(slots).slots();
    for (int slot = bits.nextSetBit(0); slot >= 0; slot = bits.nextSetBit(slot + 1)) {
      if (slotPositions[slot].compareTo(position) < 0) {
        slotPositions[slot] = position;
      }
    }
  }

  /**
   * Whether the change at {@code version} to {@code key} is held already: its slot's position
   * ({@link #slotPositions}) is past it.
   */
  private boolean held(String key, Version version) {
    return version.compareTo(slotPositions[SlotHash.getSlot(key)]) <= 0;
  }

  /** A master's slots as ranges, {@code 0-5460,6000}: what a shard's position was stored for. */
  static String slotRanges(List<Integer> slots) {
    List<Integer> sorted = slots.stream().sorted().toList();
    StringBuilder ranges = new StringBuilder();
    for (int i = 0; i < sorted.size(); i++) {
      int first = sorted.get(i);
      while (i + 1 < sorted.size() && sorted.get(i + 1) == sorted.get(i) + 1) {
        i++;
      }
      if (ranges.length() > 0) {
        ranges.append(',');
      }
      ranges.append(first);
      if (sorted.get(i) != first) {
        ranges.append('-').append(sorted.get(i));
      }
    }
    return ranges.toString();
  }

  /** For the tests: runs between the read of the lease and the claims. */
  private Runnable beforeClaims = () -> {};

  void beforeClaims(Runnable hook) {
    this.beforeClaims = hook;
  }

  /**
   * Writes this writer's lease owner into every shard key, if this writer holds the lease now.
   *
   * @throws WriterRoleLostException when another owner holds it
   */
  private void claimIfHeld() {
    if (leaseOwner == null) {
      return;
    }
    String holder = routed.sync().get(leaseKey);
    if (!leaseOwner.equals(holder)) {
      throw new WriterRoleLostException(leaseKey, String.valueOf(holder));
    }
    beforeClaims.run();
    for (Shard shard : shards.values()) {
      shard.direct.sync().hset(shard.key, "owner", leaseOwner);
    }
    // The lease read again after the claims: a daemon that took it between the read above and the
    // writes (this one paused past its lease) may have had its own claims overwritten; then this
    // one stops here, before writing anything, and the holder, refused on those shards, claims them
    // again (no script can read the lease and a shard key together: they are on different masters).
    String still = routed.sync().get(leaseKey);
    if (!leaseOwner.equals(still)) {
      // Until the holder claims them again, the claims just made would let this daemon's other
      // writers (a load's lanes) pass on those masters: each is given back where it still names
      // this writer.
      for (Shard shard : shards.values()) {
        if (leaseOwner.equals(shard.direct.sync().hget(shard.key, "owner"))) {
          shard.direct.sync().hset(shard.key, "owner", String.valueOf(still));
        }
      }
      throw new WriterRoleLostException(leaseKey, String.valueOf(still));
    }
  }

  /**
   * The replication id ({@code master_replid}) of every master, with its node id, in one text: a
   * failover of any master (a replica promoted may lack writes the old master acknowledged) or a
   * master restarted without its data changes it.
   */
  public String replicationIds() {
    try {
      return readReplicationIds();
    } catch (RedisException | RedisUnavailableException e) {
      // A connection that broke (a master restarted, or Redis's idle timeout closed it) is opened
      // again on the topology read again: the id is that master's as it is now.
      LOG.info("Reading the masters' replication ids again on new connections ({})", e.toString());
      shards.values().forEach(Shard::close);
      shards.clear();
      refreshNeeded = true;
      refreshIfNeeded();
      return readReplicationIds();
    }
  }

  private String readReplicationIds() {
    java.util.TreeMap<String, String> ids = new java.util.TreeMap<>();
    for (Map.Entry<String, Shard> shard : shards.entrySet()) {
      String id = "";
      for (String line : shard.getValue().direct.sync().info("replication").split("\\r?\\n")) {
        if (line.startsWith("master_replid:")) {
          id = line.substring("master_replid:".length()).strip();
        }
      }
      ids.put(shard.getKey(), id);
    }
    return ids.toString();
  }

  /**
   * Writes rows of a load (initial load or resync chunk: writes carrying the load's version, and
   * evictions) on the masters that serve their keys, each master's part in one transaction with
   * that shard's position, and stores no position of the batch: the load stores its own when done.
   * Retried by the caller when Redis is unavailable, as a batch is.
   */
  public BatchOutcome load(List<CacheOperation> rows) {
    if (rows.isEmpty()) {
      return BatchOutcome.NONE;
    }
    Version version =
        rows.get(0) instanceof Write write ? write.version() : ((Evict) rows.get(0)).version();
    try {
      refreshIfNeeded();
      return applyToShards(rows, version, false, true);
    } catch (RedisException e) {
      refreshNeeded = true;
      throw LettuceClients.unavailable(e);
    } catch (RedisUnavailableException e) {
      refreshNeeded = true;
      throw e;
    }
  }

  /** For the tests: reads the topology now, as after a failed write. */
  void readTopologyNow() {
    refreshNeeded = true;
    refreshIfNeeded();
  }

  /**
   * Reads the topology from the masters when a write failed on it (a slot moved, a master gone);
   * otherwise takes up, each second, the view Lettuce's client refreshes in the background (every
   * 10 s, and at once on a MOVED or ASK of a routed command): slots can move without any write of
   * this writer failing (a master gaining lower slots), and the shard keys follow, each master's
   * position stored for the slots it serves now. A view that is behind is safe: a key sent to a
   * master that no longer serves it fails its transaction (and the topology is read at once); a
   * master stores its position for no slot it gained before the writer sees it; and one that lost a
   * slot without the writer seeing it stores its position for that slot only with batches that had
   * no change to the slot's keys (any would have failed its transaction), so the slot's keys, where
   * they moved, hold every change up to that position all the same.
   *
   * <p>Not a synchronous read every second, as before: Lettuce opens a connection to every node for
   * each read, on the batch's thread, and that held batches for 10 ms and more.
   */
  private void refreshIfNeeded() {
    if (refreshNeeded) {
      client.refreshPartitions();
      useTopology();
      refreshNeeded = false;
      topologyReadAt = System.nanoTime();
    } else if (System.nanoTime() - topologyReadAt > TOPOLOGY_EVERY.toNanos()) {
      useTopology();
      topologyReadAt = System.nanoTime();
    }
  }

  /** How often the writer takes up the client's view of the topology while nothing fails. */
  private static final java.time.Duration TOPOLOGY_EVERY = java.time.Duration.ofSeconds(1);

  private long topologyReadAt = System.nanoTime();

  @Override
  public BatchOutcome apply(
      List<CacheOperation> operations, Version position, Version acknowledged) {
    int done = 0;
    Version reached = acknowledged;
    try {
      refreshIfNeeded();
      BatchOutcome outcome = BatchOutcome.NONE;
      List<CacheOperation> segment = new ArrayList<>();
      java.util.Set<String> touched = new java.util.HashSet<>();
      for (int i = 0; i < operations.size(); i++) {
        CacheOperation operation = operations.get(i);
        if (operation instanceof EvictTable truncate) {
          // As on one master (LettuceCacheWriter): the part before the TRUNCATE is stored just
          // below its position, then its evictions run, then its own position is stored.
          Version before = truncate.version().justBefore();
          outcome = outcome.plus(applyAndStore(segment, before, reached));
          reached = max(reached, before);
          done = i;
          outcome = outcome.plus(evictTable(truncate));
          outcome = outcome.plus(applyAndStore(List.of(), truncate.version(), reached));
          reached = max(reached, truncate.version());
          done = i + 1;
          segment.clear();
          touched.clear();
          continue;
        }
        if (operation instanceof Reject) {
          continue;
        }
        if (operation instanceof Write write
            && !write.unchangedColumns().isEmpty()
            && !write.mergeFrom().equals(write.key())
            && touched.contains(write.key())
            && shardOf(write.mergeFrom()) != shardOf(write.key())) {
          // A move from a key on another master, to a key an earlier operation of the segment
          // wrote or merged from: applyToShards sends the move's write ahead of the segment, and
          // it would overwrite the value that operation needs (a move out of that key would find
          // a later version there and evict its own new key: a miss that later changes carry on).
          // The segment before it is applied first, up to just below it.
          Version before = write.version().justBefore();
          outcome = outcome.plus(applyAndStore(segment, before, reached));
          reached = max(reached, before);
          done = i;
          segment.clear();
          touched.clear();
        }
        segment.add(operation);
        touched.add(key(operation));
        if (operation instanceof Write write) {
          touched.add(write.mergeFrom());
        }
      }
      outcome = outcome.plus(applyAndStore(segment, position, reached));
      return outcome;
    } catch (RedisException e) {
      refreshNeeded = true;
      throw LettuceClients.unavailable(e).afterApplying(done, reached);
    } catch (RedisUnavailableException e) {
      refreshNeeded = true;
      throw e.afterApplying(done, reached);
    }
  }

  /**
   * Applies a part of a batch of the stream on every master ({@link #applyToShards}), then stores
   * {@code position} as the batches' position.
   *
   * @param acknowledged the batches' position stored before
   */
  private BatchOutcome applyAndStore(
      List<CacheOperation> part, Version position, Version acknowledged) {
    BatchOutcome outcome = applyToShards(part, position, true, true);
    storePosition(position, acknowledged);
    return outcome;
  }

  /**
   * Applies {@code operations} on the masters that serve their keys, all at once, each in one
   * transaction with that shard's position. With {@code everyShard} (a batch of the stream), every
   * master stores the position, and a change whose key's slot holds it already is skipped.
   *
   * @param claimOnFence whether a shard refusing the lease owner is claimed again (this writer
   *     holding the lease) and the batch retried at once
   */
  private BatchOutcome applyToShards(
      List<CacheOperation> operations, Version position, boolean everyShard, boolean claimOnFence) {
    Map<Shard, List<CacheOperation>> parts = new LinkedHashMap<>();
    if (everyShard) {
      shards.values().forEach(shard -> parts.put(shard, new ArrayList<>()));
    }
    BatchOutcome outcome = BatchOutcome.NONE;
    // The batch's operations so far by key: what a move's old key holds by then; and the old keys'
    // values read for it.
    Map<String, List<Placed>> history = new HashMap<>();
    Map<String, String> reads = new HashMap<>();
    int index = 0;
    // The moves to another master, their kept columns read from the old keys, by the new key's.
    Map<Shard, List<CacheOperation>> moved = new LinkedHashMap<>();
    for (CacheOperation original : operations) {
      index++;
      CacheOperation operation = original;
      Shard shard = shardOf(key(operation));
      if (everyShard && held(key(operation), version(operation))) {
        // The key's slot holds this change already: a master stored a position past it while it
        // served the slot, and the slot's keys moved with it. Applying it again (a restart resumes
        // from the least position of all masters) would bring back, for a moment, a key a later
        // change deleted. Decided per key, not by the least position of the master's slots: a
        // master that gained a slot stored behind its own would replay every key it holds. The
        // two keys of a move are decided apart: a new key whose slot holds the move has it (or
        // later), and the old key's eviction is guarded by its version.
        continue;
      }
      if (operation instanceof Write write
          && !write.unchangedColumns().isEmpty()
          && !write.mergeFrom().equals(write.key())
          && shardOf(write.mergeFrom()) != shard) {
        operation = withKeptColumns(write, index, history, reads);
        if (operation instanceof Write) {
          moved.computeIfAbsent(shard, s -> new ArrayList<>()).add(operation);
        } else {
          String message =
              write.table()
                  + " key "
                  + DisplayText.of(write.key())
                  + ": an unchanged TOAST column had no cached value to keep (the row moved from"
                  + " a key on another Redis master); evicted";
          LOG.warn("Could not write {}", message);
          outcome =
              outcome.plus(
                  new BatchOutcome(0, 0, 0, List.of(message), List.of(), List.of(original)));
        }
      }
      history
          .computeIfAbsent(key(operation), k -> new ArrayList<>())
          .add(new Placed(index, operation));
      parts.computeIfAbsent(shard, s -> new ArrayList<>()).add(operation);
    }
    BatchOutcome sent;
    try {
      if (!moved.isEmpty()) {
        // A move read an old key on another master: the new keys are written first, on their
        // own, before any master applies the batch (and so evicts an old key), each shard's
        // position left where it was. Whatever happens next, the batch applied again finds the
        // old key to read, or the new key written by this very change (which it keeps), and no
        // master holds a change of the batch past its position but these writes, which the batch
        // writes again alike.
        send(moved, shard -> acknowledgedByShard.getOrDefault(shard.key, Version.ZERO), false);
      }
      sent = send(parts, shard -> position, true);
    } catch (FencedException e) {
      // Another daemon claimed a shard, or a master's key is new: go on only holding the lease.
      claimIfHeld();
      if (claimOnFence && !refreshNeeded) {
        return outcome.plus(applyToShards(operations, position, everyShard, false));
      }
      // Another master failed too, and is left out of the shards until the topology is read
      // again: retried now, the batch would store its position without that master's.
      throw e.failure;
    }
    return outcome.plus(sent);
  }

  /** A shard refused the batch's lease owner; {@code failure} is how it failed. */
  private static final class FencedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient RuntimeException failure;

    FencedException(RuntimeException failure) {
      super(failure.getMessage(), failure, false, false);
      this.failure = failure;
    }
  }

  /**
   * Sends each shard its part, all at once, each with the position {@code positionFor} gives it,
   * and waits for all.
   *
   * @throws FencedException when a shard refused this writer's lease owner
   */
  private BatchOutcome send(
      Map<Shard, List<CacheOperation>> parts,
      java.util.function.Function<Shard, Version> positionFor,
      boolean storesSlots) {
    BatchOutcome outcome = BatchOutcome.NONE;
    Map<Shard, Future<BatchOutcome>> sent = new LinkedHashMap<>();
    for (Map.Entry<Shard, List<CacheOperation>> part : parts.entrySet()) {
      Shard shard = part.getKey();
      shard.transaction.shardSlots(storesSlots ? shard.slots : "");
      Version shardAcknowledged = acknowledgedByShard.getOrDefault(shard.key, Version.ZERO);
      Version shardPosition = positionFor.apply(shard);
      sent.put(
          shard,
          shardThreads.submit(
              () -> shard.transaction.apply(part.getValue(), shardPosition, shardAcknowledged)));
    }
    RuntimeException failure = null;
    boolean fenced = false;
    for (Map.Entry<Shard, Future<BatchOutcome>> result : sent.entrySet()) {
      Shard shard = result.getKey();
      try {
        outcome = outcome.plus(result.getValue().get());
        acknowledgedByShard.merge(shard.key, positionFor.apply(shard), ClusterCacheWriter::max);
        keyByNode.put(shard.nodeId, shard.key);
        if (storesSlots) {
          raise(shard.slots, positionFor.apply(shard));
        }
      } catch (ExecutionException e) {
        RuntimeException cause =
            e.getCause() instanceof RuntimeException runtime
                ? runtime
                : new RedisUnavailableException(String.valueOf(e.getCause()), e.getCause());
        if (String.valueOf(cause.getMessage()).contains("FENCED")) {
          fenced = true;
        } else {
          // Opened again, on the topology read again, before anything else is written or read.
          shard.close();
          shards.values().remove(shard);
          refreshNeeded = true;
        }
        // A shard that lost acknowledged writes says more than another's outage.
        if (failure == null || cause instanceof CacheRolledBackException) {
          failure = cause;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RedisUnavailableException("interrupted while the masters applied a batch", e);
      }
    }
    if (fenced && !(failure instanceof CacheRolledBackException)) {
      throw new FencedException(failure);
    }
    if (failure != null) {
      throw failure;
    }
    return outcome;
  }

  /** An operation of the batch in hand and its place in it. */
  private record Placed(int index, CacheOperation operation) {}

  /**
   * A move of a row to a key on another master, its unchanged TOASTed columns taken from the old
   * key, as a write of every column: no script can read both keys, so the kept columns are read
   * here, as the batch leaves the old key just before the move ({@link #keptText}); an eviction (a
   * cache miss, as on one master) when the old key does not hold them.
   *
   * @param index the move's place in the batch
   * @param history the batch's operations before it, by key
   */
  private CacheOperation withKeptColumns(
      Write write, int index, Map<String, List<Placed>> history, Map<String, String> reads) {
    // A cache miss, unless the key holds this very change already: the batch applied again (a
    // retry after another master failed its part, a restart) after the old key went.
    Evict miss = new Evict(write.table(), write.key(), write.version().justBefore());
    if (held(write.mergeFrom(), write.version())) {
      return miss; // the old key's master applied the move's batch already: the old key is gone
    }
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    for (Map.Entry<String, ColumnValue> column : write.values().entrySet()) {
      ColumnValue value = column.getValue();
      if (value instanceof ColumnValue.Unchanged) {
        String kept =
            keptText(
                write.mergeFrom(),
                column.getKey(),
                index,
                write.version(),
                write.format(),
                history,
                reads);
        if (kept == null) {
          return miss;
        }
        value =
            write.format() == ValueFormat.JSON
                ? new ColumnValue.Json(kept)
                : ColumnValue.text(kept);
      }
      values.put(column.getKey(), value);
    }
    return new Write(
        write.table(), write.key(), write.format(), values, write.version(), write.ttl());
  }

  /**
   * What column {@code column} of key {@code key} holds just before the batch's operation {@code
   * before}, as a JSON member's text or a hash field's: what the batch's last operation on the key
   * before it left there (following an unchanged column to the key it was kept from), else what
   * Redis holds (read through the routed connection, once per key for JSON); null when none.
   */
  private String keptText(
      String key,
      String column,
      int before,
      Version move,
      ValueFormat format,
      Map<String, List<Placed>> history,
      Map<String, String> reads) {
    Placed last = null;
    for (Placed placed : history.getOrDefault(key, List.of())) {
      if (placed.index() < before) {
        last = placed;
      }
    }
    if (last == null) {
      // What Redis holds, only while it is older than the move: a batch applied again finds the
      // old key holding whatever a later change put there (another row, re-created).
      if (format == ValueFormat.JSON) {
        String text = reads.computeIfAbsent(key, this::readString);
        return JsonValueEncoder.CachedJson.parse(text)
            .filter(json -> json.version().compareTo(move.text()) < 0)
            .map(json -> json.member(column))
            .orElse(null);
      }
      List<io.lettuce.core.KeyValue<String, String>> fields = readHashFields(key, column);
      String version = fields.get(0).getValueOrElse(null);
      if (version != null && version.compareTo(move.text()) >= 0) {
        return null;
      }
      return fields.get(1).getValueOrElse(null);
    }
    if (!(last.operation() instanceof Write earlier)) {
      return null; // evicted earlier in the batch
    }
    ColumnValue value = earlier.values().get(column);
    if (value == null) {
      return null;
    }
    if (value instanceof ColumnValue.Unchanged) {
      return keptText(earlier.mergeFrom(), column, last.index(), move, format, history, reads);
    }
    return format == ValueFormat.JSON ? value.jsonText() : value.fieldText().orElse(null);
  }

  /** A string key's value, or null when it holds none or another type (WRONGTYPE). */
  private String readString(String key) {
    try {
      return routed.sync().get(key);
    } catch (RedisCommandExecutionException e) {
      if (String.valueOf(e.getMessage()).startsWith("WRONGTYPE")) {
        return null;
      }
      throw e;
    }
  }

  /**
   * A hash's version ({@code __v}) and {@code field}, each empty when absent, or when the key is of
   * another type (WRONGTYPE).
   */
  private List<io.lettuce.core.KeyValue<String, String>> readHashFields(String key, String field) {
    try {
      return routed.sync().hmget(key, "__v", field);
    } catch (RedisCommandExecutionException e) {
      if (String.valueOf(e.getMessage()).startsWith("WRONGTYPE")) {
        return List.of(
            io.lettuce.core.KeyValue.empty("__v"), io.lettuce.core.KeyValue.empty(field));
      }
      throw e;
    }
  }

  private Shard shardOf(String key) {
    Shard shard = bySlot[SlotHash.getSlot(key)];
    if (shard == null || shard.closed) {
      throw new RedisUnavailableException(
          "no master of the Redis Cluster serves slot "
              + SlotHash.getSlot(key)
              + " (of key "
              + DisplayText.of(key)
              + ") as this writer last saw the cluster; it reads the topology again and retries",
          null);
    }
    return shard;
  }

  private static Version version(CacheOperation operation) {
    return operation instanceof Write write ? write.version() : ((Evict) operation).version();
  }

  private static String key(CacheOperation operation) {
    if (operation instanceof Write write) {
      return write.key();
    }
    if (operation instanceof Evict evict) {
      return evict.key();
    }
    throw new IllegalArgumentException("not a key's operation: " + operation);
  }

  /**
   * The scripts this writer runs through the routed connection (the batch's position, a TRUNCATE's
   * evictions), called by their digest, computed here: loading them on every node up front would
   * fail while any node, even a failed one, does not answer. A node that does not have one yet
   * answers NOSCRIPT, and gets the script's text with EVAL ({@link #routedScript}).
   */
  private void loadScripts() {
    storePositionDigest = digest(WriterScripts.text("store_position"));
    evictDigest = digest(WriterScripts.text("evict"));
  }

  private static String digest(String script) {
    try {
      return java.util.HexFormat.of()
          .formatHex(
              java.security.MessageDigest.getInstance("SHA-1")
                  .digest(script.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Runs script {@code name} on the master of its first key, by digest, or by its text where the
   * node answers NOSCRIPT.
   */
  private String routedScript(String name, String digest, String[] keys, String... arguments) {
    try {
      return routed.sync().evalsha(digest, ScriptOutputType.STATUS, keys, arguments);
    } catch (RedisCommandExecutionException e) {
      if (!String.valueOf(e.getMessage()).startsWith("NOSCRIPT")) {
        throw e;
      }
      return routed.sync().eval(WriterScripts.text(name), ScriptOutputType.STATUS, keys, arguments);
    }
  }

  /** Stores the batch's position in the synchronizer's position hash (store_position.lua). */
  private void storePosition(Version position, Version acknowledged) {
    String outcome = callStorePosition(position, acknowledged);
    if (outcome.startsWith("behind:")) {
      throw new CacheRolledBackException(acknowledged, outcome.substring("behind:".length()));
    }
  }

  private String callStorePosition(Version position, Version acknowledged) {
    return routedScript(
        "store_position",
        storePositionDigest,
        new String[] {positionKey, truncatesKey},
        acknowledged.text(),
        position.text(),
        position.toString(),
        Instant.now().toString(),
        position.initialLoad() ? "" : position.appliedText(),
        appliedChannel);
  }

  private static Version max(Version a, Version b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * Evicts every key of a truncated table on every master: a walk that sees each key even while
   * slots move or a master fails over ({@link ClusterKeyspace}), and for each key the template
   * matches the version-guarded evict.lua, routed to the key's master (Lettuce follows MOVED and
   * ASK), so that a key written after the TRUNCATE stays. Each page first checks that this writer
   * still holds the lease. Unlike on one master nothing is left to the background: the batch waits
   * for the whole table.
   */
  private BatchOutcome evictTable(EvictTable truncate) {
    long[] counts = new long[2];
    try {
      walkTable(truncate, counts);
    } catch (IllegalStateException unsettled) {
      // The cluster did not hold still for a whole walk (a long reshard): retried, not fatal.
      throw new RedisUnavailableException(unsettled.getMessage(), unsettled);
    }
    LOG.info(
        "TRUNCATE of {}: evicted {} keys of '{}' on every master",
        truncate.table(),
        counts[0],
        truncate.template());
    return new BatchOutcome(0, counts[0], counts[1], List.of());
  }

  private void walkTable(EvictTable truncate, long[] counts) {
    keyspace.walk(
        truncate.keyGlob(),
        1_000,
        keys -> {
          requireLease();
          List<io.lettuce.core.RedisFuture<String>> replies = new ArrayList<>(keys.size());
          List<String> owned = new ArrayList<>(keys.size());
          for (String key : keys) {
            if (truncate.owns(key)) {
              owned.add(key);
              replies.add(
                  routed
                      .async()
                      .evalsha(
                          evictDigest,
                          ScriptOutputType.STATUS,
                          new String[] {key},
                          truncate.version().text()));
            }
          }
          for (int i = 0; i < replies.size(); i++) {
            String status;
            try {
              status = LettuceClients.await(replies.get(i));
            } catch (RedisUnavailableException e) {
              if (!String.valueOf(e.getMessage()).contains("NOSCRIPT")) {
                throw e;
              }
              status =
                  routedScript(
                      "evict", evictDigest, new String[] {owned.get(i)}, truncate.version().text());
            }
            if (status.equals("evicted")) {
              counts[0]++;
            } else if (status.equals("stale")) {
              counts[1]++;
            }
          }
          return true;
        });
  }

  /**
   * Checks that this writer holds the lease, for writes outside the shards' transactions.
   *
   * @throws WriterRoleLostException when another owner holds it
   */
  private void requireLease() {
    if (leaseOwner != null) {
      String holder = routed.sync().get(leaseKey);
      if (!leaseOwner.equals(holder)) {
        throw new WriterRoleLostException(leaseKey, String.valueOf(holder));
      }
    }
  }

  /**
   * A master that holds less of the stream than the batches' position, which every master had
   * acknowledged: it lost acknowledged writes (restarted without its data, or a failover promoted a
   * replica that was behind), or slots came to it while the daemon was stopped.
   *
   * @param address {@code host:port}
   * @param holds the furthest position its shard keys hold; empty when it holds none
   * @param slots the slots it serves, as ranges ({@code 0-5460,6000})
   */
  public record LostMaster(String address, Optional<Version> holds, String slots) {
    @Override
    public String toString() {
      return address
          + " (slots "
          + slots
          + ", holds "
          + holds.map(Version::toString).orElse("no position")
          + ")";
    }
  }

  /**
   * The masters that hold less than the batches' position (see {@link LostMaster}); none when the
   * state holds no batch position (nothing was acknowledged, or the state itself is gone).
   */
  public List<LostMaster> lostMasters() {
    try {
      refreshIfNeeded();
      String stored = routed.sync().hget(positionKey, "version");
      if (stored == null) {
        return List.of();
      }
      Version position = Version.parse(stored);
      List<LostMaster> lost = new ArrayList<>();
      for (Shard shard : shards.values()) {
        Optional<Version> held = shard.heldPosition();
        if (held.isEmpty() || held.get().compareTo(position) < 0) {
          lost.add(new LostMaster(shard.host + ":" + shard.port, held, shard.slots));
        }
      }
      return lost;
    } catch (RedisException e) {
      throw LettuceClients.unavailable(e);
    }
  }

  /**
   * Repairs masters that lost acknowledged writes without touching the others' keys. A master that
   * lost writes holds old values for a set of keys its position cannot name (versions say how far,
   * not which), and keys of rows deleted since: so every key of the mapped tables on it is evicted,
   * page by page on its own node while this writer holds the lease, by evict.lua at the batches'
   * position (a key written past it, by a writer that took over meanwhile, stays; the master's own
   * keys are all below: it holds less than that position). Then {@code queueReload} must queue,
   * durably, a reload of the mapped tables' rows whose keys are in the masters' slots (the resync
   * machinery, which never regresses a newer change); only then is the furthest position any master
   * holds stored in each repaired master's shard key (its changes up to there are not replayed onto
   * it), so that a daemon that stops before it repairs the master again, and one that stops after
   * finds the reload queued.
   *
   * <p>Between the deletion and the reload's chunk of a key, reading it misses (never stale). Keys
   * of the master that the stream changes from now on are written as they change.
   *
   * @param globs where the mapped tables' keys start ({@link CacheOperation.EvictTable#keyGlob()})
   * @param owns whether a key matched by a glob is a key of a mapped table
   * @return how many keys were deleted
   * @throws RedisUnavailableException when a master's slots changed or were moving during its
   *     deletion (keys may have left it unseen): the next start repairs it again
   */
  public long repair(
      List<LostMaster> lost,
      java.util.Collection<String> globs,
      java.util.function.Predicate<String> owns,
      Runnable queueReload) {
    try {
      String stored = routed.sync().hget(positionKey, "version");
      if (stored == null) {
        throw new IllegalStateException("no batch position to repair the masters up to");
      }
      Version position = Version.parse(stored);
      // What the masters were written up to, which the batches' position may lag (a daemon killed
      // between the masters' parts and the batch's position): the repaired master's changes up to
      // there are skipped, not replayed, since replaying them onto its emptied keys would show
      // readers values older than they saw before it lost them; the resync writes current ones.
      Version furthest = position;
      for (Shard shard : shards.values()) {
        for (Map.Entry<Version, String> held : shard.storedPositions()) {
          furthest = max(furthest, held.getKey());
        }
      }
      long deleted = 0;
      List<Shard> repaired = new ArrayList<>();
      for (LostMaster master : lost) {
        Map.Entry<String, Shard> node =
            shards.entrySet().stream()
                .filter(s -> (s.getValue().host + ":" + s.getValue().port).equals(master.address()))
                .findFirst()
                .orElseThrow(
                    () ->
                        new RedisUnavailableException(
                            "Redis master " + master.address() + " is no longer a master", null));
        deleted += deleteMapped(node.getKey(), node.getValue(), master, position, globs, owns);
        repaired.add(node.getValue());
      }
      queueReload.run();
      for (Shard shard : repaired) {
        // Only ever raised: a daemon paused past its lease cannot take the position back. A
        // failed row's mark left in the key is cleared by the first call, which stores nothing.
        String outcome = "";
        for (int attempt = 0; attempt < 2 && !outcome.equals("stored"); attempt++) {
          outcome =
              shard
                  .direct
                  .sync()
                  .evalsha(
                      shard.scripts.digest("store_shard_position"),
                      ScriptOutputType.STATUS,
                      new String[] {shard.key},
                      Version.ZERO.text(),
                      furthest.text(),
                      furthest.toString(),
                      Instant.now().toString(),
                      shard.slots);
          if (outcome.equals("kept")) {
            break; // it holds more already
          }
        }
        raise(shard.slots, furthest);
        acknowledgedByShard.merge(shard.key, furthest, ClusterCacheWriter::max);
      }
      return deleted;
    } catch (RedisException e) {
      throw LettuceClients.unavailable(e);
    }
  }

  /** Deletes the keys of the mapped tables on one master, checking its slots held still. */
  private long deleteMapped(
      String nodeId,
      Shard shard,
      LostMaster master,
      Version position,
      java.util.Collection<String> globs,
      java.util.function.Predicate<String> owns) {
    ClusterTopology before = ClusterTopology.read(client, routed);
    Optional<ClusterTopology.Master> was = topologyOf(before, nodeId);
    // The slots found lost, and the resync's filter, are those the master serves now.
    if (was.isEmpty()
        || !was.get().openSlots().isEmpty()
        || before.uncoveredSlots() > 0
        || !was.get().covered().equals(HashSlots.parse(master.slots()).slots())) {
      throw new RedisUnavailableException(
          "cannot repair Redis master "
              + shard.host
              + ":"
              + shard.port
              + " while the cluster changes ("
              + before.problems()
              + "); trying again",
          null);
    }
    long deleted = 0;
    for (String glob : globs) {
      io.lettuce.core.ScanArgs match = io.lettuce.core.ScanArgs.Builder.matches(glob).limit(1_000);
      io.lettuce.core.ScanCursor cursor = io.lettuce.core.ScanCursor.INITIAL;
      do {
        io.lettuce.core.KeyScanCursor<String> page = shard.direct.sync().scan(cursor, match);
        requireLease();
        // One call per key: the keys of a page are in many slots, which one command refuses.
        List<String> owned = page.getKeys().stream().filter(owns).toList();
        List<io.lettuce.core.RedisFuture<String>> replies = new ArrayList<>();
        for (String key : owned) {
          replies.add(
              shard
                  .direct
                  .async()
                  .evalsha(
                      evictDigest, ScriptOutputType.STATUS, new String[] {key}, position.text()));
        }
        for (int i = 0; i < replies.size(); i++) {
          String status;
          try {
            status = LettuceClients.await(replies.get(i));
          } catch (RedisUnavailableException e) {
            if (!String.valueOf(e.getMessage()).contains("NOSCRIPT")) {
              throw e;
            }
            status =
                shard
                    .direct
                    .sync()
                    .eval(
                        WriterScripts.text("evict"),
                        ScriptOutputType.STATUS,
                        new String[] {owned.get(i)},
                        position.text());
          }
          if (status.equals("evicted")) {
            deleted++;
          }
        }
        cursor = page;
      } while (!cursor.isFinished());
    }
    ClusterTopology after = ClusterTopology.read(client, routed);
    if (!was.equals(topologyOf(after, nodeId))) {
      throw new RedisUnavailableException(
          "the slots of Redis master "
              + shard.host
              + ":"
              + shard.port
              + " changed while its keys were deleted; keys may have left it unseen, so it is"
              + " repaired again",
          null);
    }
    return deleted;
  }

  private static Optional<ClusterTopology.Master> topologyOf(
      ClusterTopology topology, String nodeId) {
    return topology.masters().stream().filter(master -> master.id().equals(nodeId)).findFirst();
  }

  /** Deletes the position a load stored, so that the next start loads again. */
  public void forgetPosition() {
    routed.sync().del(positionKey);
  }

  /**
   * Where Redis holds the stream up to, on every master: the batch position stored once every shard
   * acknowledged it, or less where a master holds less (its shard key, or, after its slots moved,
   * the furthest shard key on it). Empty when the state holds none, or when a master holds no shard
   * key at all: it lost its data (restarted empty), and only loading again restores it.
   */
  @Override
  public Optional<Version> position() {
    try {
      refreshIfNeeded();
      Optional<Version> stored =
          Optional.ofNullable(routed.sync().hget(positionKey, "version")).map(Version::parse);
      if (stored.isEmpty()) {
        return stored;
      }
      Version position = stored.get();
      List<String> heldBy = new ArrayList<>();
      boolean lost = false;
      for (Shard shard : shards.values()) {
        Optional<Version> master = shard.heldPosition();
        heldBy.add(
            shard.host + ":" + shard.port + " " + master.map(Version::toString).orElse("none"));
        if (master.isEmpty()) {
          lost = true;
        } else if (master.get().compareTo(position) < 0) {
          position = master.get();
        }
      }
      LOG.info("Positions the masters hold: {}; the batches' position: {}", heldBy, stored.get());
      if (lost) {
        LOG.warn(
            "A Redis master holds no position of this synchronizer: it lost its data (or slots moved"
                + " to it, with no shard key, while the daemon was stopped)");
        return Optional.empty();
      }
      return Optional.of(position);
    } catch (RedisException e) {
      throw LettuceClients.unavailable(e);
    }
  }

  @Override
  public void close() {
    shards.values().forEach(Shard::close);
    shards.clear();
    shardThreads.shutdownNow();
    routed.close();
    client.shutdown();
  }

  /**
   * A master and what writes to it: a connection for its transactions, one for reads, its scripts
   * loaded for its shard key.
   */
  private final class Shard implements AutoCloseable {
    final String nodeId;
    final String host;
    final int port;
    final String key;
    final RedisClient nodeClient;
    final StatefulRedisConnection<String, String> pipeline;
    final StatefulRedisConnection<String, String> direct;
    final WriterScripts scripts;
    final BatchTransaction transaction;

    /** The slots the master serves in the topology this writer read last ({@link #slotRanges}). */
    volatile String slots;

    Shard(String nodeId, String host, int port, String key, String slots) {
      this.nodeId = nodeId;
      this.host = host;
      this.port = port;
      this.key = key;
      this.slots = slots;
      this.nodeClient = LettuceClients.nonReconnecting(settings, host, port, clientName);
      try {
        this.pipeline = nodeClient.connect();
        this.direct = nodeClient.connect();
        closeEarlierConnections();
        this.scripts = WriterScripts.loadForShard(direct.sync(), key, leaseOwner);
        pipeline.setAutoFlushCommands(false);
        WriterLeaseFence unfenced = new WriterLeaseFence(key, null);
        this.transaction =
            new BatchTransaction(
                pipeline,
                direct.sync(),
                scripts,
                key,
                appliedChannel,
                LettuceClients.maxValueBytes(direct.sync()),
                new PendingTruncates(shardKeyPrefix, scripts),
                settings.waitReplicas(),
                unfenced);
        List<io.lettuce.core.KeyValue<String, String>> stored =
            direct.sync().hmget(key, "version", "slots");
        if (stored.get(0).hasValue()) {
          acknowledgedByShard.merge(
              key, Version.parse(stored.get(0).getValue()), ClusterCacheWriter::max);
        }
      } catch (RuntimeException e) {
        nodeClient.shutdown();
        throw e;
      }
    }

    /**
     * Closes, on the master, this writer's earlier connections (the late-delivery fence, as {@link
     * LettuceCacheWriter} does after a failure): a shard is opened again after its connections
     * failed, and one that dropped on the writer's side can still be open on the master's, holding
     * part of a batch that a broken network delivers after the batch was applied again. Runs before
     * anything is written on the new connections (at the writer's start it finds none: the name is
     * new to each writer, and an earlier daemon's writes are fenced by the lease).
     */
    private void closeEarlierConnections() {
      try {
        LettuceClients.closeEarlierConnections(
            direct.sync(), clientName, pipeline.sync().clientId(), direct.sync().clientId());
      } catch (RedisCommandExecutionException e) {
        LOG.warn(
            "Could not close this writer's earlier connections on {}:{} ({}): a batch delayed in"
                + " the network could still run after its retry; allow the user CLIENT ID, CLIENT"
                + " LIST and CLIENT KILL",
            host,
            port,
            e.getMessage());
      }
    }

    /**
     * The position this master holds: the furthest of the shard keys on it. Its own holds what it
     * was written; one that came with slots from another master holds less, and every change since
     * to the keys of those slots was applied here (a batch is done only once every master took its
     * part).
     */
    Optional<Version> heldPosition() {
      // Every shard key on the master, not only the one named for its lowest slot now: after slots
      // moved, that name may be a key that came with them from another master (its position
      // older), while this master's own key, under its earlier name, holds its own.
      return storedPositions().stream().map(Map.Entry::getKey).max(Version::compareTo);
    }

    /** The position each shard key on this master holds, by key. */
    Map<String, Version> storedVersions() {
      Map<String, Version> versions = new HashMap<>();
      for (String other : shardKeys()) {
        String version = storedVersion(other);
        if (version != null) {
          versions.put(other, Version.parse(version));
        }
      }
      return versions;
    }

    /**
     * The position {@code shardKey} holds on this master; null when absent, or when the master
     * answers for it elsewhere (MOVED, ASK: a slot in migration).
     */
    String storedVersion(String shardKey) {
      try {
        return direct.sync().hget(shardKey, "version");
      } catch (RedisCommandExecutionException e) {
        String message = String.valueOf(e.getMessage());
        if (message.startsWith("MOVED") || message.startsWith("ASK")) {
          return null;
        }
        throw e;
      }
    }

    /**
     * What every shard key on this master holds: its position and the slots its master served when
     * it was stored ('' when not told).
     */
    List<Map.Entry<Version, String>> storedPositions() {
      List<Map.Entry<Version, String>> positions = new ArrayList<>();
      for (String other : shardKeys()) {
        List<io.lettuce.core.KeyValue<String, String>> stored =
            direct.sync().hmget(other, "version", "slots");
        if (stored.get(0).hasValue()) {
          positions.add(
              Map.entry(Version.parse(stored.get(0).getValue()), stored.get(1).getValueOrElse("")));
        }
      }
      return positions;
    }

    /**
     * The shard keys on this master: its own, and any that came with slots from another master. The
     * preflight's throwaway keys share the prefix and are left out.
     */
    List<String> shardKeys() {
      List<String> keys = new ArrayList<>();
      io.lettuce.core.ScanArgs match =
          io.lettuce.core.ScanArgs.Builder.matches(shardKeyPrefix + "*").limit(1_000);
      io.lettuce.core.ScanCursor cursor = io.lettuce.core.ScanCursor.INITIAL;
      do {
        io.lettuce.core.KeyScanCursor<String> page = direct.sync().scan(cursor, match);
        for (String key : page.getKeys()) {
          if (SHARD_KEY.matcher(key.substring(shardKeyPrefix.length())).matches()) {
            keys.add(key);
          }
        }
        cursor = page;
      } while (!cursor.isFinished());
      return keys;
    }

    boolean serves(String host, int port, String key) {
      return this.host.equals(host)
          && this.port == port
          && this.key.equals(key)
          && pipeline.isOpen()
          && direct.isOpen();
    }

    /** Set once closed: a route to it ({@link #bySlot}) is then one to no master. */
    private volatile boolean closed;

    @Override
    public void close() {
      closed = true;
      nodeClient.shutdown();
    }
  }
}
