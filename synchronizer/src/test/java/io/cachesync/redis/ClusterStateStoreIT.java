package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.model.Version;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.TestServers;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The state store on a Redis Cluster (3 masters, a replica each): under the tagged prefix every
 * state key is in one slot, so each operation that touches several (saving offsets against the
 * position, taking and returning a resync, a reset) runs on that slot's master; and saving offsets
 * waits for that master's replica.
 */
class ClusterStateStoreIT {
  private static final String PREFIX = "{cachesync:state}:";
  private static final Version HELD = new Version(0x200, 0x20);

  private static RedisCluster cluster;
  private static RedisClusterClient client;
  private static StatefulRedisClusterConnection<String, String> connection;
  private static RedisAdvancedClusterCommands<String, String> redis;
  private static LettuceStateStore store;

  @BeforeAll
  static void start() {
    cluster = TestServers.redisCluster(3, 1);
    client =
        RedisClusterClient.create(
            cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
    connection = client.connect();
    redis = connection.sync();
    store = LettuceStateStore.connect(new RedisSettings(cluster.uri(), 1), PREFIX);
  }

  @AfterAll
  static void stop() {
    if (store != null) {
      store.close();
    }
    if (connection != null) {
      connection.close();
      client.shutdown();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @BeforeEach
  void state() {
    redis.flushall();
    store.reset("epoch-1", true);
    redis.hset(PREFIX + "position", "version", HELD.text());
  }

  @Test
  void everyStateKey_isInTheSlotOfTheTag() {
    int slot = SlotHash.getSlot(PREFIX);
    for (String name : new String[] {"offsets", "position", "writer", "resync:queue", "sweep"}) {
      assertThat(SlotHash.getSlot(PREFIX + name)).as(name).isEqualTo(slot);
    }
  }

  @Test
  void reset_emptiesTheStateUnderANewEpoch_andRecordsTheSweep() {
    store.markLoaded(Set.of("public.users"));

    store.reset("epoch-2", true);

    assertThat(store.epoch()).contains("epoch-2");
    assertThat(store.loadedTables()).isEmpty();
    assertThat(store.position()).isEmpty();
    assertThat(store.sweepNeeded()).isTrue();
    assertThat(store.sweepRecord()).hasValueSatisfying(r -> assertThat(r).startsWith("after"));
    store.reset("epoch-3", false);
    assertThat(store.sweepNeeded()).isFalse();
  }

  @Test
  void saveOffsets_checksEpochAndPosition_andWaitsForTheReplica() {
    Map<String, String> offsets = Map.of("partition", "offset");

    assertThat(store.saveOffsets("epoch-0", HELD, offsets)).isFalse();
    assertThat(store.saveOffsets("epoch-1", new Version(0x300, 0x30), offsets)).isFalse();
    assertThat(store.offsets()).isEmpty();
    assertThat(store.saveOffsets("epoch-1", HELD, offsets)).isTrue();
    assertThat(store.offsets()).isEqualTo(offsets);
    assertThat(store.position()).contains(HELD);
  }

  @Test
  void resyncs_areQueuedTakenReturnedAndFinished() {
    assertThat(store.holdWriter("daemon-a", Duration.ofSeconds(30))).isTrue();
    store.submitResync("r1", Set.of("public.users"));

    var taken = store.takeResync("daemon-a").orElseThrow();
    assertThat(taken.getKey()).isEqualTo("r1");
    assertThat(taken.getValue()).containsExactly("public.users");
    assertThat(store.takenResyncs()).isEqualTo(1);

    store.returnResync("r1");
    assertThat(store.takenResyncs()).isZero();
    assertThat(store.queuedResyncs()).isEqualTo(1);

    store.takeResync("daemon-a").orElseThrow();
    assertThat(store.requeueTakenResyncs()).isEqualTo(1);
    store.takeResync("daemon-a").orElseThrow();
    store.finishResync("r1", Map.of("public.users", 3L));
    assertThat(store.resync("r1"))
        .containsEntry("status", "done")
        .containsEntry("rows:public.users", "3");
    assertThat(store.takenResyncs()).isZero();
  }

  @Test
  void theWritersLease_isHeldTakenOverAndReleased() {
    assertThat(store.holdWriter("daemon-a", Duration.ofSeconds(30))).isTrue();
    assertThat(store.holdWriter("daemon-b", Duration.ofSeconds(30))).isFalse();
    assertThat(store.takeOverWriter("daemon-a", "daemon-b", Duration.ofSeconds(30))).isTrue();
    assertThat(store.writer()).contains("daemon-b");
    assertThat(store.writerTtl()).isPresent();

    store.releaseWriter("daemon-b");
    assertThat(store.writer()).isEmpty();
  }
}
