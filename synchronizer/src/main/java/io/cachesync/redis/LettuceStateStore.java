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
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final String offsetsKey;
  private final String tablesKey;
  private final String positionKey;

  private LettuceStateStore(RedisClient client, String stateKeyPrefix) {
    this.client = client;
    this.connection = client.connect();
    this.offsetsKey = stateKeyPrefix + "offsets";
    this.tablesKey = stateKeyPrefix + "tables";
    this.positionKey = stateKeyPrefix + "position";
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
  public void reset() {
    connection.sync().del(offsetsKey, tablesKey, positionKey);
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
