package io.cachesync.redis;

import io.cachesync.config.RedisSettings;
import io.cachesync.state.StateStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link StateStore} in Redis hashes and sets under the synchronizer's state prefix. On a Redis
 * Cluster the prefix is one hash tag ({@code {cachesync:<name>}:}), so every state key lives in one
 * slot: the scripts that touch several of them are routed to that slot's master like a single-key
 * command, and what one master did with MULTI is done by a script here on both.
 */
public final class LettuceStateStore implements StateStore {
  /**
   * How long the status of a resync is kept once it is done. A request not done yet keeps its
   * status however long it waits for a daemon: its absence means Redis lost its data.
   */
  private static final long RESYNC_STATUS_SECONDS = 86_400;

  /** The field of the offsets hash that holds the state's epoch (see {@link #epoch()}). */
  private static final String EPOCH_FIELD = "__epoch";

  /**
   * Saves offsets (ARGV[3..], field/value pairs) into KEYS[1] only while the epoch is ARGV[1] and
   * the position in KEYS[2] is at least ARGV[2] (unless that is all zeros); returns 1/0.
   */
  private static final String SAVE_OFFSETS =
      "if redis.call('HGET', KEYS[1], '__epoch') ~= ARGV[1] then return 0 end\n"
          + "if ARGV[2] ~= '"
          + io.cachesync.model.Version.ZERO.text()
          + "' then\n"
          + "  local stored = redis.call('HGET', KEYS[2], 'version')\n"
          + "  if not stored or stored < ARGV[2] then return 0 end\n"
          + "end\n"
          + "if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end\n"
          + "return 1";

  private static final String HOLD_WRITER = LettuceCacheWriter.resource("hold_writer.lua");
  private static final String RELEASE_WRITER = LettuceCacheWriter.resource("release_writer.lua");
  private static final String REQUEUE_RESYNCS = LettuceCacheWriter.resource("requeue_resyncs.lua");
  private static final String TAKE_RESYNC = LettuceCacheWriter.resource("take_resync.lua");

  /**
   * Puts back a resync request a daemon took (KEYS[1] the taken list, KEYS[2] the queue, ARGV[1]
   * the request's id), in one step.
   */
  private static final String RETURN_RESYNC =
      "redis.call('LREM', KEYS[1], 0, ARGV[1])\n"
          + "redis.call('LPUSH', KEYS[2], ARGV[1])\n"
          + "return 1";

  /**
   * Empties the state for a new epoch (KEYS: offsets, tables, position, sweep; ARGV[1] the epoch,
   * ARGV[2] the sweep's record or '' for none), in one step.
   */
  private static final String RESET =
      "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])\n"
          + "redis.call('HSET', KEYS[1], '__epoch', ARGV[1])\n"
          + "if ARGV[2] ~= '' then redis.call('SET', KEYS[4], ARGV[2]) end\n"
          + "return 1";

  /** Closes the client and its connection. */
  private final AutoCloseable resources;

  /** The commands, on one master or routed by key on a cluster. */
  private final RedisClusterCommands<String, String> commands;

  /**
   * WAITs for {@code replicas} replicas (at most {@link LettuceClients#WAIT_REPLICAS}) of the
   * master that holds the state, on the connection the state was written on; returns how many.
   */
  private final java.util.function.IntToLongFunction waitForReplicas;

  private final String offsetsKey;
  private final String tablesKey;
  private final String positionKey;
  private final String sweepKey;
  private final String prefix;
  private final int waitReplicas;

  private LettuceStateStore(RedisClient client, String stateKeyPrefix, int waitReplicas) {
    StatefulRedisConnection<String, String> connection = client.connect();
    this.resources =
        () -> {
          connection.close();
          client.shutdown();
        };
    this.commands = connection.sync();
    this.waitForReplicas =
        replicas ->
            connection.sync().waitForReplication(replicas, LettuceClients.WAIT_REPLICAS.toMillis());
    this.waitReplicas = waitReplicas;
    this.offsetsKey = stateKeyPrefix + "offsets";
    this.tablesKey = stateKeyPrefix + "tables";
    this.positionKey = stateKeyPrefix + "position";
    this.sweepKey = stateKeyPrefix + "sweep";
    this.prefix = stateKeyPrefix;
  }

  private LettuceStateStore(RedisClusterClient client, String stateKeyPrefix, int waitReplicas) {
    StatefulRedisClusterConnection<String, String> connection = client.connect();
    this.resources =
        () -> {
          connection.close();
          client.shutdown();
        };
    this.commands = connection.sync();
    this.offsetsKey = stateKeyPrefix + "offsets";
    // WAIT counts what reached the replicas from this connection to the master of the state's
    // slot: the node connection that routed commands to that slot use.
    this.waitForReplicas =
        replicas -> {
          RedisClusterNode master =
              client.getPartitions().getPartitionBySlot(SlotHash.getSlot(offsetsKey));
          if (master == null) {
            return 0;
          }
          return connection
              .getConnection(master.getNodeId())
              .sync()
              .waitForReplication(replicas, LettuceClients.WAIT_REPLICAS.toMillis());
        };
    this.waitReplicas = waitReplicas;
    this.tablesKey = stateKeyPrefix + "tables";
    this.positionKey = stateKeyPrefix + "position";
    this.sweepKey = stateKeyPrefix + "sweep";
    this.prefix = stateKeyPrefix;
  }

  /**
   * Connects to the master.
   *
   * @throws RedisRefusedException when Redis answered but refused the connection (a login, a
   *     plain-text server behind rediss:// or the reverse), naming the setting to check
   * @throws io.lettuce.core.RedisConnectionException when Redis cannot be reached, or refused a TLS
   *     certificate, its message the one line that says why
   */
  public static LettuceStateStore connect(RedisSettings settings, String stateKeyPrefix) {
    if (settings.cluster()) {
      RedisClusterClient cluster = LettuceClients.cluster(settings);
      try {
        return new LettuceStateStore(cluster, stateKeyPrefix, settings.waitReplicas());
      } catch (RuntimeException e) {
        cluster.shutdown();
        if (e instanceof RedisConnectionException) {
          throw new RedisConnectionException(
              LettuceClients.connectFailed(settings, e).getMessage(), e);
        }
        throw e;
      }
    }
    RedisClient client = LettuceClients.reconnecting(settings);
    try {
      return new LettuceStateStore(client, stateKeyPrefix, settings.waitReplicas());
    } catch (RuntimeException e) {
      // The connection failed: the client's threads go with it.
      client.shutdown();
      if (e instanceof RedisConnectionException) {
        // Told in one line (a certificate refused, or why Redis cannot be reached); retried.
        throw new RedisConnectionException(
            LettuceClients.connectFailed(settings, e).getMessage(), e);
      }
      throw e;
    }
  }

  @Override
  public Map<String, String> offsets() {
    Map<String, String> offsets = new java.util.HashMap<>(commands.hgetall(offsetsKey));
    offsets.remove(EPOCH_FIELD);
    return offsets;
  }

  @Override
  public java.util.Optional<String> epoch() {
    return java.util.Optional.ofNullable(commands.hget(offsetsKey, EPOCH_FIELD));
  }

  @Override
  public void adoptEpoch(String epoch) {
    commands.hsetnx(offsetsKey, EPOCH_FIELD, epoch);
  }

  @Override
  public boolean saveOffsets(
      String epoch, io.cachesync.model.Version acknowledged, Map<String, String> offsets) {
    List<String> arguments = new ArrayList<>(2 + 2 * offsets.size());
    arguments.add(epoch);
    arguments.add(acknowledged.text());
    offsets.forEach(
        (field, value) -> {
          arguments.add(field);
          arguments.add(value);
        });
    Long saved =
        commands.eval(
            SAVE_OFFSETS,
            ScriptOutputType.INTEGER,
            new String[] {offsetsKey, positionKey},
            arguments.toArray(String[]::new));
    if (saved == null || saved != 1) {
      return false;
    }
    // The slot is confirmed once this returns: with redis.waitReplicas, only after the replicas
    // hold the offsets too, so that a failover to one of them finds where to resume.
    if (waitReplicas > 0) {
      long replicas = waitForReplicas.applyAsLong(waitReplicas);
      LettuceClients.requireReplicas(replicas, waitReplicas, "the offsets");
    }
    return true;
  }

  @Override
  public Set<String> loadedTables() {
    return new HashSet<>(commands.smembers(tablesKey));
  }

  @Override
  public void markLoaded(Set<String> tables) {
    if (!tables.isEmpty()) {
      commands.sadd(tablesKey, tables.toArray(String[]::new));
    }
  }

  @Override
  public void submitResync(String id, Set<String> tables, String slots) {
    Map<String, String> request = new java.util.HashMap<>();
    request.put("status", "queued");
    request.put("tables", String.join(",", new java.util.TreeSet<>(tables)));
    if (!slots.isEmpty()) {
      request.put("slots", slots);
    }
    commands.hset(prefix + "resync:" + id, request);
    commands.persist(prefix + "resync:" + id);
    commands.rpush(prefix + "resync:queue", id);
    // A request the daemon counts on (a master's repair stores its position right after) must
    // survive a failover of the state's master as the offsets do.
    if (waitReplicas > 0) {
      long replicas = waitForReplicas.applyAsLong(waitReplicas);
      LettuceClients.requireReplicas(replicas, waitReplicas, "the resync request");
    }
  }

  @Override
  public java.util.Optional<Map.Entry<String, Set<String>>> takeResync(String owner) {
    String id =
        commands.eval(
            TAKE_RESYNC,
            ScriptOutputType.VALUE,
            new String[] {prefix + "writer", prefix + "resync:queue", takenKey()},
            owner);
    if (id == null) {
      return java.util.Optional.empty();
    }
    String tables = commands.hget(prefix + "resync:" + id, "tables");
    Set<String> names = tables == null || tables.isEmpty() ? Set.of() : Set.of(tables.split(","));
    return java.util.Optional.of(Map.entry(id, names));
  }

  @Override
  public void resyncStatus(String id, String status, Map<String, Long> rowsLoaded) {
    Map<String, String> fields = new java.util.HashMap<>();
    fields.put("status", status);
    fields.put("updated", java.time.Instant.now().toString());
    rowsLoaded.forEach((table, rows) -> fields.put("rows:" + table, Long.toString(rows)));
    commands.hset(prefix + "resync:" + id, fields);
    if ("done".equals(status)) {
      commands.expire(prefix + "resync:" + id, RESYNC_STATUS_SECONDS);
    } else {
      commands.persist(prefix + "resync:" + id);
    }
  }

  @Override
  public void returnResync(String id) {
    commands.eval(
        RETURN_RESYNC,
        ScriptOutputType.INTEGER,
        new String[] {takenKey(), prefix + "resync:queue"},
        id);
  }

  @Override
  public long requeueTakenResyncs() {
    Long moved =
        commands.eval(
            REQUEUE_RESYNCS, ScriptOutputType.INTEGER, takenKey(), prefix + "resync:queue");
    return moved == null ? 0 : moved;
  }

  @Override
  public void finishResync(String id, Map<String, Long> rowsLoaded) {
    resyncStatus(id, "done", rowsLoaded);
    commands.lrem(takenKey(), 0, id);
  }

  private String takenKey() {
    return prefix + "resync:taken";
  }

  @Override
  public boolean holdWriter(String owner, java.time.Duration ttl) {
    return hold(owner, Long.toString(ttl.toMillis()));
  }

  @Override
  public boolean takeOverWriter(String deadOwner, String owner, java.time.Duration ttl) {
    return hold(owner, Long.toString(ttl.toMillis()), deadOwner);
  }

  /** hold_writer.lua: owner, TTL in milliseconds, and the dead owner to take over from, if any. */
  private boolean hold(String... arguments) {
    Long held =
        commands.eval(
            HOLD_WRITER, ScriptOutputType.INTEGER, new String[] {prefix + "writer"}, arguments);
    return held != null && held == 1;
  }

  @Override
  public java.util.Optional<String> writer() {
    return java.util.Optional.ofNullable(commands.get(prefix + "writer"));
  }

  @Override
  public void releaseWriter(String owner) {
    commands.eval(
        RELEASE_WRITER, ScriptOutputType.INTEGER, new String[] {prefix + "writer"}, owner);
  }

  @Override
  public Map<String, String> resync(String id) {
    return commands.hgetall(prefix + "resync:" + id);
  }

  @Override
  public java.util.Optional<Long> applied() {
    return java.util.Optional.ofNullable(commands.hget(positionKey, "applied"))
        .map(text -> Long.parseUnsignedLong(text, 16));
  }

  @Override
  public java.util.Optional<io.cachesync.model.Version> position() {
    return java.util.Optional.ofNullable(commands.hget(positionKey, "version"))
        .map(io.cachesync.model.Version::parse);
  }

  /** Deletes every field of the offsets hash but the epoch (KEYS[1]), in one step. */
  private static final String FORGET_OFFSETS =
      "for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
          + "  if field ~= '"
          + EPOCH_FIELD
          + "' then redis.call('HDEL', KEYS[1], field) end\n"
          + "end\n"
          + "return 1";

  @Override
  public void forgetOffsets() {
    commands.eval(FORGET_OFFSETS, ScriptOutputType.INTEGER, offsetsKey);
  }

  @Override
  public void reset(String epoch, boolean sweep) {
    commands.eval(
        RESET,
        ScriptOutputType.INTEGER,
        new String[] {offsetsKey, tablesKey, positionKey, sweepKey},
        epoch,
        sweep ? "after the load begun at " + java.time.Instant.now() : "");
  }

  @Override
  public boolean sweepNeeded() {
    return commands.exists(sweepKey) == 1;
  }

  @Override
  public void sweepDone() {
    commands.del(sweepKey);
  }

  // Read-only views for `cachesync status`; the daemon does not use them.

  /**
   * Every field of the position hash: {@code version} (32 hex digits), {@code lsn} (the same for
   * people), {@code at} (when it was stored) and whatever else the writer records there.
   */
  public Map<String, String> positionFields() {
    return commands.hgetall(positionKey);
  }

  /**
   * How long the writer's lease lives on unless renewed; empty when no one holds it (or it has no
   * expiry, which only a hand-set key has).
   */
  public java.util.Optional<java.time.Duration> writerTtl() {
    Long millis = commands.pttl(prefix + "writer");
    return millis == null || millis < 0
        ? java.util.Optional.empty()
        : java.util.Optional.of(java.time.Duration.ofMillis(millis));
  }

  /** How many resync requests wait in the queue for a daemon. */
  public long queuedResyncs() {
    return commands.llen(prefix + "resync:queue");
  }

  /** How many resync requests a daemon took and has not finished. */
  public long takenResyncs() {
    return commands.llen(takenKey());
  }

  /** The tables (schema.table) whose TRUNCATE evictions are recorded as not done yet. */
  public Set<String> pendingTruncates() {
    return new java.util.TreeSet<>(commands.hkeys(prefix + PendingTruncates.KEY));
  }

  /** What a reload recorded about the sweep it needs (see {@link #reset}); empty when none. */
  public java.util.Optional<String> sweepRecord() {
    return java.util.Optional.ofNullable(commands.get(sweepKey));
  }

  @Override
  public void close() {
    try {
      resources.close();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
