package io.cachesync.testing;

import java.util.Optional;

/** A throwaway Redis server. */
public interface RedisServer extends AutoCloseable {

  String host();

  int port();

  /** How the server speaks TLS, when it does (then only TLS: {@code rediss://}). */
  default Optional<RedisTls> tls() {
    return Optional.empty();
  }

  default String uri() {
    return "redis://" + host() + ":" + port();
  }

  /** Sends one command with a raw RESP connection and returns the reply's first line. */
  default String command(String... arguments) {
    return Resp.command(host(), port(), arguments);
  }

  /** Freezes the server: connections stay open but nothing answers, data is kept. */
  default void pause() {
    throw new UnsupportedOperationException("pausing a server needs the local redis-server binary");
  }

  default void resume() {
    throw new UnsupportedOperationException("pausing a server needs the local redis-server binary");
  }

  /**
   * Kills the server (SIGKILL) and starts it again on its port, empty: a restart without
   * persistence.
   */
  default void restartEmpty() {
    throw new UnsupportedOperationException(
        "restarting a server needs the local redis-server binary");
  }

  @Override
  void close();
}
