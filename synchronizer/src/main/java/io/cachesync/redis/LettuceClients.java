package io.cachesync.redis;

import io.cachesync.config.RedisSettings;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import java.time.Duration;

/** Builds Lettuce clients from the settings, with the timeouts every connection shares. */
final class LettuceClients {
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);

  private LettuceClients() {}

  static RedisURI uri(RedisSettings settings) {
    RedisURI uri = RedisURI.create(settings.uri());
    uri.setTimeout(COMMAND_TIMEOUT);
    return uri;
  }

  /**
   * A client for long-lived connections: they reconnect after a loss, and commands fail while
   * disconnected instead of queueing without bound.
   */
  static RedisClient reconnecting(RedisSettings settings) {
    return client(
        settings,
        options()
            .autoReconnect(true)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS));
  }

  /** A client that fails fast instead of reconnecting: for one-shot work such as the preflight. */
  static RedisClient oneShot(RedisSettings settings) {
    return client(settings, options().autoReconnect(false));
  }

  /** The timeouts every connection shares. */
  private static ClientOptions.Builder options() {
    return ClientOptions.builder()
        .socketOptions(SocketOptions.builder().connectTimeout(CONNECT_TIMEOUT).build())
        .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT));
  }

  private static RedisClient client(RedisSettings settings, ClientOptions.Builder options) {
    RedisClient client = RedisClient.create(uri(settings));
    client.setOptions(options.build());
    return client;
  }

  /** The innermost cause: what a Lettuce exception wraps is what the message should say. */
  static Throwable rootCause(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    return cause;
  }
}
