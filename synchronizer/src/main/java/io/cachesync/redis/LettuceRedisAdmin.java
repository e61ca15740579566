package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** {@link RedisAdmin} over one Lettuce connection. */
final class LettuceRedisAdmin implements RedisAdmin {
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;

  private LettuceRedisAdmin(
      RedisClient client, StatefulRedisConnection<String, String> connection) {
    this.client = client;
    this.connection = connection;
  }

  static RedisAdmin connect(RedisSettings settings) throws ServerUnreachableException {
    try {
      return connectOnce(settings);
    } catch (ServerUnreachableException e) {
      // Lettuce sometimes reports a handshake Redis refused (a wrong password) as the connection
      // closing under it; a second attempt gets Redis's own answer.
      if (!String.valueOf(e.getMessage()).contains("closed prematurely")) {
        throw e;
      }
      return connectOnce(settings);
    }
  }

  private static RedisAdmin connectOnce(RedisSettings settings) throws ServerUnreachableException {
    RedisClient client = LettuceClients.oneShot(settings);
    try {
      return new LettuceRedisAdmin(client, client.connect());
    } catch (RedisConnectionException e) {
      client.shutdown();
      throw LettuceClients.connectFailed(settings, e);
    } catch (RuntimeException e) {
      client.shutdown();
      throw e;
    }
  }

  @Override
  public Map<String, String> info(String section) {
    Map<String, String> fields = new LinkedHashMap<>();
    String info;
    try {
      info = connection.sync().info(section);
    } catch (RedisCommandExecutionException e) {
      return fields; // INFO refused (an ACL): the preflight's ACL check names it
    }
    for (String line : info.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("#")) {
        fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
      }
    }
    return fields;
  }

  @Override
  public Optional<String> configGet(String parameter) {
    try {
      return Optional.ofNullable(connection.sync().configGet(parameter).get(parameter));
    } catch (RedisCommandExecutionException e) {
      return Optional.empty();
    }
  }

  @Override
  public java.util.List<String> scriptProblems(String stateKeyPrefix) {
    return new ScriptTrial(connection.sync(), stateKeyPrefix).problems();
  }

  @Override
  public RedisRights.Gaps lacking(RedisRights rights, String stateKeyPrefix) {
    return new AclProbe(connection.sync(), stateKeyPrefix).run(rights);
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
