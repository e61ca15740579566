package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.model.Version;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
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

  @Test
  void reset_forAReload_removesTheReadYourWritesBound() {
    redis.redis().hset(PREFIX + "position", "applied", HELD.appliedText());

    store.reset("epoch-2", false);

    // No fence may be reached while the reload runs: its first streamed batch sets it again.
    assertThat(redis.redis().hget(PREFIX + "position", "applied")).isNull();
    assertThat(store.position()).isEmpty();
  }

  @Test
  void holdWriter_anotherOwnerHoldsTheLease_isRefusedUntilReleased() {
    assertThat(store.holdWriter("a", Duration.ofSeconds(10))).isTrue();
    assertThat(store.holdWriter("b", Duration.ofSeconds(10))).isFalse();
    store.releaseWriter("b");
    assertThat(store.writer()).hasValue("a");
    assertThat(store.holdWriter("a", Duration.ofSeconds(10))).as("renewed").isTrue();
    assertThat(redis.redis().pttl(PREFIX + "writer")).isBetween(9_000L, 10_000L);

    store.releaseWriter("a");

    assertThat(store.writer()).isEmpty();
    assertThat(store.holdWriter("b", Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void takeResync_takenButNotFinished_isQueuedAgainInOrderAndForgottenOnceDone() {
    assertThat(store.holdWriter("me", Duration.ofSeconds(10))).isTrue();
    store.submitResync("r1", Set.of("public.a"));
    store.submitResync("r2", Set.of("public.b"));
    store.submitResync("r3", Set.of("public.c"));
    assertThat(store.takeResync("me").orElseThrow().getKey()).isEqualTo("r1");
    assertThat(store.takeResync("me").orElseThrow().getKey()).isEqualTo("r2");

    assertThat(store.requeueTakenResyncs()).isEqualTo(2);

    assertThat(redis.redis().lrange(PREFIX + "resync:queue", 0, -1))
        .containsExactly("r1", "r2", "r3");
    assertThat(store.takeResync("me").orElseThrow()).isEqualTo(Map.entry("r1", Set.of("public.a")));
    store.finishResync("r1", Map.of("public.a", 5L));
    assertThat(redis.redis().llen(PREFIX + "resync:taken")).isZero();
    assertThat(store.resync("r1"))
        .containsEntry("status", "done")
        .containsEntry("rows:public.a", "5");
  }

  @Test
  void takeResync_anotherOwnerHoldsTheWritersRole_takesNothing() {
    assertThat(store.holdWriter("other", Duration.ofSeconds(10))).isTrue();
    store.submitResync("r1", Set.of("public.a"));

    assertThat(store.takeResync("me")).isEmpty();

    assertThat(redis.redis().lrange(PREFIX + "resync:queue", 0, -1)).containsExactly("r1");
    assertThat(redis.redis().llen(PREFIX + "resync:taken")).isZero();
    assertThat(store.takeResync("other").orElseThrow().getKey()).isEqualTo("r1");
  }

  @Test
  void submitResync_notDoneYet_keepsItsStatusHoweverLongItWaits() {
    store.submitResync("r1", Set.of("public.a"));
    store.resyncStatus("r1", "running", Map.of("public.a", 1L));

    assertThat(redis.redis().ttl(PREFIX + "resync:r1"))
        .as("no expiry while not done")
        .isEqualTo(-1);
    store.finishResync("r1", Map.of("public.a", 2L));
    assertThat(redis.redis().ttl(PREFIX + "resync:r1")).as("kept a day once done").isPositive();
  }
}
