package io.cachesync.redis;

import io.cachesync.config.RedisSettings;
import io.cachesync.state.StateStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** {@link StateStore} in Redis hashes and sets under the synchronizer's state prefix. */
public final class LettuceStateStore implements StateStore {
  /** How long the status of a resync is kept after its last update. */
  private static final long RESYNC_STATUS_SECONDS = 86_400;

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final String offsetsKey;
  private final String tablesKey;
  private final String positionKey;
  private final String prefix;

  private LettuceStateStore(RedisClient client, String stateKeyPrefix) {
    this.client = client;
    this.connection = client.connect();
    this.offsetsKey = stateKeyPrefix + "offsets";
    this.tablesKey = stateKeyPrefix + "tables";
    this.positionKey = stateKeyPrefix + "position";
    this.prefix = stateKeyPrefix;
  }

  public static LettuceStateStore connect(RedisSettings settings, String stateKeyPrefix) {
    return new LettuceStateStore(LettuceClients.reconnecting(settings), stateKeyPrefix);
  }

  @Override
  public Map<String, String> offsets() {
    return connection.sync().hgetall(offsetsKey);
  }

  @Override
  public void saveOffsets(Map<String, String> offsets) {
    if (!offsets.isEmpty()) {
      connection.sync().hset(offsetsKey, offsets);
    }
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
    commands.expire(prefix + "resync:" + id, RESYNC_STATUS_SECONDS);
    commands.rpush(prefix + "resync:queue", id);
  }

  @Override
  public java.util.Optional<Map.Entry<String, Set<String>>> takeResync() {
    String id = connection.sync().lpop(prefix + "resync:queue");
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
    connection.sync().expire(prefix + "resync:" + id, RESYNC_STATUS_SECONDS);
  }

  @Override
  public Map<String, String> resync(String id) {
    return connection.sync().hgetall(prefix + "resync:" + id);
  }

  @Override
  public java.util.Optional<io.cachesync.model.Version> position() {
    return java.util.Optional.ofNullable(connection.sync().hget(positionKey, "version"))
        .map(io.cachesync.model.Version::parse);
  }

  @Override
  public void reset() {
    connection.sync().del(offsetsKey, tablesKey, positionKey);
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
