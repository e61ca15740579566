package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.model.Version;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Offsets are saved only into the state they belong to (invariants 3 and 5): under the daemon's
 * epoch, and only while Redis holds the stream as far as it acknowledged to the daemon. Offsets
 * saved into a Redis a failover rolled back would confirm the slot past changes Redis lost.
 */
class StateStoreIT {
  private static final String PREFIX = "cachesync:state:";
  private static final Version HELD = new Version(0x200, 0x20);
  private static final Map<String, String> OFFSETS = Map.of("partition", "offset");

  private static RedisServer server;
  private static RedisProbe redis;
  private static LettuceStateStore store;

  @BeforeAll
  static void start() {
    server = TestServers.redis();
    redis = new RedisProbe(server);
    store = LettuceStateStore.connect(new RedisSettings(server.uri()), PREFIX);
  }

  @AfterAll
  static void stop() {
    store.close();
    redis.close();
    server.close();
  }

  @BeforeEach
  void state() {
    redis.redis().flushall();
    store.reset("epoch-1", false);
    redis.redis().hset(PREFIX + "position", "version", HELD.text());
  }

  @Test
  void saveOffsets_redisHoldsWhatWasAcknowledged_saves() {
    assertThat(store.saveOffsets("epoch-1", HELD, OFFSETS)).isTrue();
    assertThat(store.offsets()).isEqualTo(OFFSETS);
  }

  @Test
  void saveOffsets_redisHoldsLessThanAcknowledged_refusesAndWritesNothing() {
    assertThat(store.saveOffsets("epoch-1", new Version(0x300, 0x30), OFFSETS)).isFalse();
    assertThat(store.offsets()).isEmpty();
  }

  @Test
  void saveOffsets_anotherEpoch_refuses() {
    assertThat(store.saveOffsets("epoch-0", HELD, OFFSETS)).isFalse();
    assertThat(store.offsets()).isEmpty();
  }

  @Test
  void saveOffsets_nothingAcknowledgedYet_savesWithoutAPosition() {
    redis.redis().del(PREFIX + "position");
    assertThat(store.saveOffsets("epoch-1", Version.ZERO, OFFSETS)).isTrue();
  }
}
