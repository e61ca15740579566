package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * {@link LettuceClients#ready}: a connection whose first commands Lettuce rejects as "Currently not
 * connected" is waited for; any answer from Redis, a refusal too, ends the wait; anything else, a
 * closed connection or an interrupt fails it with Lettuce's own error.
 */
class ConnectionReadyTest {
  private static final String NOT_CONNECTED = "Currently not connected. Commands are rejected.";

  @Test
  void rejectedAFewTimes_thenAnswered_returnsOnceAnswered() {
    AtomicInteger calls = new AtomicInteger();
    LettuceClients.ready(
        connection(
            () -> {
              if (calls.incrementAndGet() <= 3) {
                throw new RedisException(NOT_CONNECTED);
              }
              return 0L;
            },
            new AtomicBoolean(true)));
    assertThat(calls).hasValue(4);
  }

  @Test
  void refusedByRedis_showsTheConnectionWorks() {
    AtomicInteger calls = new AtomicInteger();
    LettuceClients.ready(
        connection(
            () -> {
              calls.incrementAndGet();
              throw new RedisCommandExecutionException("NOPERM User cs has no permissions");
            },
            new AtomicBoolean(true)));
    assertThat(calls).hasValue(1);
  }

  @Test
  void otherFailure_isThrownAsItIs() {
    RedisCommandTimeoutException timeout =
        new RedisCommandTimeoutException("Command timed out after 10 second(s)");
    assertThatThrownBy(
            () ->
                LettuceClients.ready(
                    connection(
                        () -> {
                          throw timeout;
                        },
                        new AtomicBoolean(true))))
        .isSameAs(timeout);
  }

  @Test
  void closedConnection_stopsWaiting() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                LettuceClients.ready(connection(rejectedCounting(calls), new AtomicBoolean(false))))
        .hasMessage(NOT_CONNECTED);
    assertThat(calls).hasValue(1);
  }

  @Test
  void interrupted_stopsWaiting() {
    AtomicInteger calls = new AtomicInteger();
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(
              () ->
                  LettuceClients.ready(
                      connection(rejectedCounting(calls), new AtomicBoolean(true))))
          .hasMessage(NOT_CONNECTED);
      assertThat(calls).hasValue(1);
    } finally {
      Thread.interrupted(); // clears the flag for the next test
    }
  }

  /** A DBSIZE that Lettuce always rejects as not connected, counted in {@code calls}. */
  private static Supplier<Long> rejectedCounting(AtomicInteger calls) {
    return () -> {
      calls.incrementAndGet();
      throw new RedisException(NOT_CONNECTED);
    };
  }

  /** A connection whose DBSIZE does what {@code dbsize} does, open while {@code open} is true. */
  @SuppressWarnings("unchecked")
  private static StatefulRedisConnection<String, String> connection(
      Supplier<Long> dbsize, AtomicBoolean open) {
    RedisCommands<String, String> commands =
        (RedisCommands<String, String>)
            Proxy.newProxyInstance(
                RedisCommands.class.getClassLoader(),
                new Class<?>[] {RedisCommands.class},
                (proxy, method, arguments) -> {
                  if (method.getName().equals("dbsize")) {
                    return dbsize.get();
                  }
                  throw new UnsupportedOperationException(method.getName());
                });
    return (StatefulRedisConnection<String, String>)
        Proxy.newProxyInstance(
            StatefulRedisConnection.class.getClassLoader(),
            new Class<?>[] {StatefulRedisConnection.class},
            (proxy, method, arguments) ->
                switch (method.getName()) {
                  case "sync" -> commands;
                  case "isOpen" -> open.get();
                  default -> throw new UnsupportedOperationException(method.getName());
                });
  }
}
