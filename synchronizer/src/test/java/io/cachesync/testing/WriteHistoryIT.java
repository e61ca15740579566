package io.cachesync.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The checker the fault tests rely on: it must report every write readers could see below a key's
 * highest version, and only those. A transaction counts by what it leaves behind.
 */
class WriteHistoryIT {
  private static final String V1 = version(1);
  private static final String V2 = version(2);
  private static final String V3 = version(3);

  private RedisServer server;
  private WriteHistory history;
  private RedisProbe probe;
  private RedisCommands<String, String> redis;
  private String evictSha;

  @BeforeEach
  void setUp() throws IOException {
    server = TestServers.redis();
    history = new WriteHistory(server);
    probe = new RedisProbe(server);
    redis = probe.redis();
    try (InputStream in = WriteHistory.class.getResourceAsStream("/io/cachesync/redis/evict.lua")) {
      evictSha = redis.scriptLoad(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
    // The monitor connects in the background: writes before it would go unseen.
    await("the monitor watching")
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              redis.hset("probe", "__v", V1);
              return history.highestVersion("probe").isPresent();
            });
  }

  @AfterEach
  void tearDown() {
    probe.close();
    history.close();
    server.close();
  }

  @Test
  void aWriteBelowTheHighestVersion_inItsOwnCommand_isARegression() {
    redis.hset("k", "__v", V2);
    redis.hset("k", "__v", V1);

    awaitSeen();
    assertThat(history.regressions())
        .extracting(WriteHistory.Regression::key, WriteHistory.Regression::written)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("k", V1));
  }

  @Test
  void aWriteBelowTheHighestVersion_evictedLaterInTheSameTransaction_isNotSeenByReaders() {
    redis.hset("k", "__v", V2);
    // A retried batch: its earlier change written again over a key its later change deleted.
    redis.multi();
    redis.hset("k", "__v", V1);
    redis.evalsha(evictSha, ScriptOutputType.STATUS, new String[] {"k"}, V3);
    redis.exec();

    awaitSeen();
    assertThat(history.regressions()).isEmpty();
    assertThat(history.undoneInTransaction()).isEqualTo(1);
    assertThat(redis.exists("k")).isZero();
  }

  @Test
  void aTransactionLeavingAKeyBelowWhatReadersSaw_isARegression() {
    redis.hset("k", "__v", V2);
    redis.multi();
    redis.evalsha(evictSha, ScriptOutputType.STATUS, new String[] {"k"}, V3);
    redis.hset("k", "__v", V1);
    redis.exec();

    awaitSeen();
    assertThat(history.regressions())
        .extracting(WriteHistory.Regression::key, WriteHistory.Regression::written)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("k", V1));
  }

  @Test
  void aDiscardedTransaction_wroteNothing() {
    redis.hset("k", "__v", V2);
    redis.multi();
    redis.hset("k", "__v", V1);
    redis.discard();
    redis.hset("k", "__v", V3);

    awaitSeen();
    assertThat(history.regressions()).isEmpty();
    assertThat(redis.hget("k", "__v")).isEqualTo(V3);
  }

  /**
   * A failover replaces what the promoted server held with what it replicated: a write above that,
   * though below what the server was written while it was master before, is no regression readers
   * could see; one below what it holds once promoted still is. Sentinel closes every client of the
   * server it promotes, the monitor too: the history connects again, finds the same server with
   * another replication id, and goes on from what the server holds (hashes, JSON strings, and keys
   * MONITOR prints escaped).
   */
  @Test
  void afterAPromotion_writesAreJudgedAgainstWhatTheServerHolds() {
    String v4 = version(4);
    String odd = "k\u00e9\"\\";
    for (String key : List.of("k", odd)) {
      redis.hset(key, "__v", v4);
    }
    redis.set("j", json(v4));
    awaitSeen();
    long failovers = history.failoversSeen();
    try (RedisServer master = TestServers.redis();
        RedisProbe masterProbe = new RedisProbe(master)) {
      for (String key : List.of("k", odd)) {
        masterProbe.redis().hset(key, "__v", V2);
      }
      masterProbe.redis().set("j", json(V2));
      redis.replicaof(master.host(), master.port());
      await("the watched server to hold what it replicated")
          .atMost(Duration.ofSeconds(30))
          .until(() -> V2.equals(redis.hget(odd, "__v")) && json(V2).equals(redis.get("j")));
      redis.replicaofNoOne();
      redis.clientKill(io.lettuce.core.KillArgs.Builder.typeNormal()); // as Sentinel does
    }
    await("the history to find the server failed over")
        .atMost(Duration.ofSeconds(10))
        .until(() -> history.failoversSeen() > failovers);

    // Below what the server holds (V2): regressions only what it holds can show.
    for (String key : List.of("k", odd)) {
      redis.hset(key, "__v", V1);
    }
    redis.set("j", json(V1));
    // Above it, below what it was written before (V4): none.
    for (String key : List.of("k", odd)) {
      redis.hset(key, "__v", V3);
    }
    redis.set("j", json(V3));
    awaitSeen();
    assertThat(history.regressions())
        .extracting(WriteHistory.Regression::written)
        .containsExactly(V1, V1, V1);
  }

  /**
   * A demoted server's data is what it replicates: MONITOR shows the replicated writes, which may
   * be below what it was written as master (the new master lost them in the failover) and are no
   * regression of its own. Sentinel closes the monitor when it demotes a server, as here.
   */
  @Test
  void aReplica_replicatedWritesAreNotJudged() {
    redis.hset("k", "__v", version(4));
    awaitSeen();
    long reconnects = history.reconnects();
    try (RedisServer master = TestServers.redis();
        RedisProbe masterProbe = new RedisProbe(master)) {
      masterProbe.redis().hset("k", "__v", V2);
      redis.replicaof(master.host(), master.port());
      redis.clientKill(io.lettuce.core.KillArgs.Builder.typeNormal()); // as Sentinel does
      await("the history watching the replica")
          .atMost(Duration.ofSeconds(10))
          .until(() -> history.reconnects() > reconnects);
      await("the replica holding what it replicated")
          .atMost(Duration.ofSeconds(30))
          .until(() -> V2.equals(redis.hget("k", "__v")));
      long seen = history.writesSeen();
      masterProbe.redis().hset("k", "__v", V3);
      await("the replica's monitor showing the replicated write")
          .atMost(Duration.ofSeconds(10))
          .until(() -> history.writesSeen() > seen);
      long failovers = history.failoversSeen();
      long demoted = history.reconnects();
      redis.replicaofNoOne();
      redis.clientKill(io.lettuce.core.KillArgs.Builder.typeNormal()); // as Sentinel does
      await("the history watching the promoted server")
          .atMost(Duration.ofSeconds(10))
          .until(() -> history.reconnects() > demoted && history.failoversSeen() > failovers);
    }
    awaitSeen();
    assertThat(history.regressions()).isEmpty();
    assertThat(history.highestVersion("k")).contains(V3);
  }

  /** A restart empty is no failover: a write below what readers saw before it still counts. */
  @Test
  void afterARestartEmpty_aWriteBelowWhatWasSeenIsARegression() {
    redis.hset("k", "__v", V2);
    awaitSeen();
    long reconnects = history.reconnects();
    server.restartEmpty();
    await("the monitor watching again")
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              redis.hset("probe", "__v", V3);
              return history.reconnects() > reconnects
                  && history.highestVersion("probe").orElse("").equals(V3);
            });
    redis.hset("k", "__v", V1);
    awaitSeen();
    assertThat(history.regressions())
        .extracting(WriteHistory.Regression::key, WriteHistory.Regression::written)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("k", V1));
    assertThat(history.failoversSeen()).isZero();
  }

  private static String json(String version) {
    return "{\"__v\":\"" + version + "\",\"x\":1}";
  }

  /**
   * Waits until the monitor saw everything sent so far: it prints commands in the order Redis ran
   * them, so a marker written last is seen last.
   */
  private void awaitSeen() {
    String marker = "seen:" + System.nanoTime();
    redis.hset(marker, "__v", V1);
    await("the monitor seeing the test's writes")
        .atMost(Duration.ofSeconds(10))
        .until(() -> history.highestVersion(marker).isPresent());
  }

  private static String version(int n) {
    return "0".repeat(31) + n;
  }
}
