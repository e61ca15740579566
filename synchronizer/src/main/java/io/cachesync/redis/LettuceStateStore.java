package io.cachesync.redis;

import io.cachesync.config.RedisSettings;
import io.cachesync.state.StateStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@link StateStore} in Redis hashes and sets under the synchronizer's state prefix. */
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

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final String offsetsKey;
  private final String tablesKey;
  private final String positionKey;
  private final String sweepKey;
  private final String prefix;
  private final int waitReplicas;

  private LettuceStateStore(RedisClient client, String stateKeyPrefix, int waitReplicas) {
    this.client = client;
    this.waitReplicas = waitReplicas;
    this.connection = client.connect();
    this.offsetsKey = stateKeyPrefix + "offsets";
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
    Map<String, String> offsets = new java.util.HashMap<>(connection.sync().hgetall(offsetsKey));
    offsets.remove(EPOCH_FIELD);
    return offsets;
  }

  @Override
  public java.util.Optional<String> epoch() {
    return java.util.Optional.ofNullable(connection.sync().hget(offsetsKey, EPOCH_FIELD));
  }

  @Override
  public void adoptEpoch(String epoch) {
    connection.sync().hsetnx(offsetsKey, EPOCH_FIELD, epoch);
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
        connection
            .sync()
            .eval(
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
      long replicas =
          connection
              .sync()
              .waitForReplication(waitReplicas, LettuceClients.WAIT_REPLICAS.toMillis());
      LettuceClients.requireReplicas(replicas, waitReplicas, "the offsets");
    }
    return true;
  }

  @Override
  public Set<String> loadedTables() {
    return new HashSet<>(connection.sync().smembers(tablesKey));
  }

  @Override
  public void markLoaded(Set<String> tables) {
    if (!tables.isEmpty()) {
      connection.sync().sadd(tablesKey, tables.toArray(String[]::new));
    }
  }

  @Override
  public void submitResync(String id, Set<String> tables) {
    var commands = connection.sync();
    commands.hset(
        prefix + "resync:" + id,
        Map.of("status", "queued", "tables", String.join(",", new java.util.TreeSet<>(tables))));
    commands.persist(prefix + "resync:" + id);
    commands.rpush(prefix + "resync:queue", id);
  }

  @Override
  public java.util.Optional<Map.Entry<String, Set<String>>> takeResync(String owner) {
    String id =
        connection
            .sync()
            .eval(
                TAKE_RESYNC,
                ScriptOutputType.VALUE,
                new String[] {prefix + "writer", prefix + "resync:queue", takenKey()},
                owner);
    if (id == null) {
      return java.util.Optional.empty();
    }
    String tables = connection.sync().hget(prefix + "resync:" + id, "tables");
    Set<String> names = tables == null || tables.isEmpty() ? Set.of() : Set.of(tables.split(","));
    return java.util.Optional.of(Map.entry(id, names));
  }

  @Override
  public void resyncStatus(String id, String status, Map<String, Long> rowsLoaded) {
    Map<String, String> fields = new java.util.HashMap<>();
    fields.put("status", status);
    fields.put("updated", java.time.Instant.now().toString());
    rowsLoaded.forEach((table, rows) -> fields.put("rows:" + table, Long.toString(rows)));
    connection.sync().hset(prefix + "resync:" + id, fields);
    if ("done".equals(status)) {
      connection.sync().expire(prefix + "resync:" + id, RESYNC_STATUS_SECONDS);
    } else {
      connection.sync().persist(prefix + "resync:" + id);
    }
  }

  @Override
  public void returnResync(String id) {
    var commands = connection.sync();
    commands.multi();
    commands.lrem(takenKey(), 0, id);
    commands.lpush(prefix + "resync:queue", id);
    commands.exec();
  }

  @Override
  public long requeueTakenResyncs() {
    Long moved =
        connection
            .sync()
            .eval(REQUEUE_RESYNCS, ScriptOutputType.INTEGER, takenKey(), prefix + "resync:queue");
    return moved == null ? 0 : moved;
  }

  @Override
  public void finishResync(String id, Map<String, Long> rowsLoaded) {
    resyncStatus(id, "done", rowsLoaded);
    connection.sync().lrem(takenKey(), 0, id);
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
        connection
            .sync()
            .eval(
                HOLD_WRITER, ScriptOutputType.INTEGER, new String[] {prefix + "writer"}, arguments);
    return held != null && held == 1;
  }

  @Override
  public java.util.Optional<String> writer() {
    return java.util.Optional.ofNullable(connection.sync().get(prefix + "writer"));
  }

  @Override
  public void releaseWriter(String owner) {
    connection
        .sync()
        .eval(RELEASE_WRITER, ScriptOutputType.INTEGER, new String[] {prefix + "writer"}, owner);
  }

  @Override
  public Map<String, String> resync(String id) {
    return connection.sync().hgetall(prefix + "resync:" + id);
  }

  @Override
  public java.util.Optional<Long> applied() {
    return java.util.Optional.ofNullable(connection.sync().hget(positionKey, "applied"))
        .map(text -> Long.parseUnsignedLong(text, 16));
  }

  @Override
  public java.util.Optional<io.cachesync.model.Version> position() {
    return java.util.Optional.ofNullable(connection.sync().hget(positionKey, "version"))
        .map(io.cachesync.model.Version::parse);
  }

  @Override
  public void reset(String epoch, boolean sweep) {
    var commands = connection.sync();
    commands.multi();
    commands.del(offsetsKey, tablesKey, positionKey, sweepKey);
    commands.hset(offsetsKey, EPOCH_FIELD, epoch);
    if (sweep) {
      commands.set(sweepKey, "after the load begun at " + java.time.Instant.now());
    }
    commands.exec();
  }

  @Override
  public boolean sweepNeeded() {
    return connection.sync().exists(sweepKey) == 1;
  }

  @Override
  public void sweepDone() {
    connection.sync().del(sweepKey);
  }

  // Read-only views for `cachesync status`; the daemon does not use them.

  /**
   * Every field of the position hash: {@code version} (32 hex digits), {@code lsn} (the same for
   * people), {@code at} (when it was stored) and whatever else the writer records there.
   */
  public Map<String, String> positionFields() {
    return connection.sync().hgetall(positionKey);
  }

  /**
   * How long the writer's lease lives on unless renewed; empty when no one holds it (or it has no
   * expiry, which only a hand-set key has).
   */
  public java.util.Optional<java.time.Duration> writerTtl() {
    Long millis = connection.sync().pttl(prefix + "writer");
    return millis == null || millis < 0
        ? java.util.Optional.empty()
        : java.util.Optional.of(java.time.Duration.ofMillis(millis));
  }

  /** How many resync requests wait in the queue for a daemon. */
  public long queuedResyncs() {
    return connection.sync().llen(prefix + "resync:queue");
  }

  /** How many resync requests a daemon took and has not finished. */
  public long takenResyncs() {
    return connection.sync().llen(takenKey());
  }

  /** The tables (schema.table) whose TRUNCATE evictions are recorded as not done yet. */
  public Set<String> pendingTruncates() {
    return new java.util.TreeSet<>(connection.sync().hkeys(prefix + PendingTruncates.KEY));
  }

  /** What a reload recorded about the sweep it needs (see {@link #reset}); empty when none. */
  public java.util.Optional<String> sweepRecord() {
    return java.util.Optional.ofNullable(connection.sync().get(sweepKey));
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
