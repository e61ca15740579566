package io.cachesync.testing;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.List;
import java.util.Map;

/** Reads what the tests assert on in Redis. */
public final class RedisProbe implements AutoCloseable {
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;

  public RedisProbe(RedisServer server) {
    this.client = RedisClient.create(server.uri());
    server
        .tls()
        .ifPresent(
            tls -> client.setOptions(ClientOptions.builder().sslOptions(tls.sslOptions()).build()));
    this.connection = client.connect();
  }

  public RedisCommands<String, String> redis() {
    return connection.sync();
  }

  /** A hash without the synchronizer's reserved {@code __} fields. */
  public Map<String, String> hash(String key) {
    Map<String, String> hash = new java.util.TreeMap<>(redis().hgetall(key));
    hash.keySet().removeIf(field -> field.startsWith("__"));
    return hash;
  }

  public List<String> keys(String pattern) {
    return redis().keys(pattern).stream().sorted().toList();
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
