package io.cachesync.testing;

import static org.awaitility.Awaitility.await;

import io.cachesync.config.RedisSettings;
import io.cachesync.redis.LettuceCacheWriter;
import io.cachesync.sync.RedisUnavailableException;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * A throwaway Redis with a {@link LettuceCacheWriter} on it, for the writer's own tests: connected
 * directly, or through a {@link TcpProxy} for network faults.
 */
public final class CacheWriterFixture implements AutoCloseable {
  public final RedisServer server;
  public final RedisProbe redis;

  /** The proxy the writer connects through; null when it connects directly. */
  public final TcpProxy proxy;

  public final LettuceCacheWriter writer;

  private CacheWriterFixture(boolean proxied, String stateKeyPrefix) throws Exception {
    server = TestServers.redis();
    redis = new RedisProbe(server);
    proxy = proxied ? new TcpProxy(server.host(), server.port()) : null;
    String uri = proxied ? "redis://" + proxy.host() + ":" + proxy.port() : server.uri();
    writer = LettuceCacheWriter.connect(new RedisSettings(uri), stateKeyPrefix);
  }

  /** A writer connected straight to the server, its state under {@code stateKeyPrefix}. */
  public static CacheWriterFixture direct(String stateKeyPrefix) throws Exception {
    return new CacheWriterFixture(false, stateKeyPrefix);
  }

  /** A writer connected through {@link #proxy}, its state under {@code stateKeyPrefix}. */
  public static CacheWriterFixture throughProxy(String stateKeyPrefix) throws Exception {
    return new CacheWriterFixture(true, stateKeyPrefix);
  }

  /**
   * The result of {@code call} once the writer's connections are back after a network fault: it is
   * called again while it fails with Redis unavailable (the writer rejects commands until it has
   * reconnected).
   */
  public <T> T afterReconnecting(Callable<T> call) {
    return await("the writer reconnecting")
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptionsInstanceOf(RedisUnavailableException.class)
        .until(call, result -> true);
  }

  @Override
  public void close() {
    writer.close();
    if (proxy != null) {
      proxy.close();
    }
    redis.close();
    server.close();
  }
}
