package io.cachesync.testing;

/** A throwaway Redis server. */
public interface RedisServer extends AutoCloseable {

  String host();

  int port();

  default String uri() {
    return "redis://" + host() + ":" + port();
  }

  /** Sends one command with a raw RESP connection and returns the reply's first line. */
  default String command(String... arguments) {
    return Resp.command(host(), port(), arguments);
  }

  @Override
  void close();
}
