package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.model.Version;
import io.cachesync.state.StateStore;
import io.lettuce.core.RedisConnectionException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The engine's start waits for Redis instead of failing when Redis cannot be reached. */
class RedisOffsetBackingStoreTest {
  private static final String KEY = "a2V5"; // base64 of "key"
  private static final String VALUE = "dmFs"; // base64 of "val"

  /** A state store whose offsets() fails {@code failures} times, then answers. */
  private static StateStore failing(int failures, AtomicInteger calls, String epoch) {
    return (StateStore)
        Proxy.newProxyInstance(
            StateStore.class.getClassLoader(),
            new Class<?>[] {StateStore.class},
            (proxy, method, arguments) ->
                switch (method.getName()) {
                  case "offsets" -> {
                    if (calls.incrementAndGet() <= failures) {
                      throw new RedisConnectionException("Connection refused");
                    }
                    yield Map.of(KEY, VALUE);
                  }
                  case "epoch" -> Optional.of(epoch);
                  default -> throw new UnsupportedOperationException(method.getName());
                });
  }

  @Test
  void start_redisUnreachableTwice_waitsAndReadsTheStoredOffsets() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger lost = new AtomicInteger();
    RedisOffsetBackingStore store =
        new RedisOffsetBackingStore(
            new RedisOffsetBackingStore.Registration(
                failing(2, calls, "e1"),
                "e1",
                () -> Version.ZERO,
                lost::incrementAndGet,
                new CountDownLatch(1)));
    try {
      store.start();

      ByteBuffer key = ByteBuffer.wrap("key".getBytes(StandardCharsets.UTF_8));
      assertThat(store.get(List.of(key)).get())
          .containsEntry(key, ByteBuffer.wrap("val".getBytes(StandardCharsets.UTF_8)));
      assertThat(calls).hasValue(3);
      assertThat(lost).hasValue(0);
    } finally {
      store.stop();
    }
  }

  @Test
  void start_redisBackWithAnotherEpoch_reportsTheStateLost() {
    AtomicInteger lost = new AtomicInteger();
    RedisOffsetBackingStore store =
        new RedisOffsetBackingStore(
            new RedisOffsetBackingStore.Registration(
                failing(1, new AtomicInteger(), "new"),
                "old",
                () -> Version.ZERO,
                lost::incrementAndGet,
                new CountDownLatch(1)));
    try {
      store.start();

      assertThat(lost).hasValue(1);
    } finally {
      store.stop();
    }
  }

  @Test
  void start_closedWhileWaitingForRedis_givesUp() {
    CountDownLatch closing = new CountDownLatch(1);
    closing.countDown();
    RedisOffsetBackingStore store =
        new RedisOffsetBackingStore(
            new RedisOffsetBackingStore.Registration(
                failing(Integer.MAX_VALUE, new AtomicInteger(), "e1"),
                "e1",
                () -> Version.ZERO,
                () -> {},
                closing));
    try {
      assertThatThrownBy(store::start)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("stopped while waiting for Redis");
    } finally {
      store.stop();
    }
  }
}
