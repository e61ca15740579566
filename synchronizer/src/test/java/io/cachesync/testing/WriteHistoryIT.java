package io.cachesync.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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
   * server it promotes, the monitor too: the history connects again, forgets what it saw, and reads
   * what the server holds.
   */
  @Test
  void afterAPromotion_writesAreJudgedAgainstWhatTheServerHolds() {
    String v4 = version(4);
    redis.hset("k", "__v", v4);
    awaitSeen();
    long read = history.holdingsRead();
    try (RedisServer master = TestServers.redis();
        RedisProbe masterProbe = new RedisProbe(master)) {
      masterProbe.redis().hset("k", "__v", V2);
      redis.replicaof(master.host(), master.port());
      await("the watched server to hold what it replicated")
          .atMost(Duration.ofSeconds(30))
          .until(() -> V2.equals(redis.hget("k", "__v")));
      redis.replicaofNoOne();
      redis.clientKill(io.lettuce.core.KillArgs.Builder.typeNormal()); // as Sentinel does
    }
    await("the history to read what the promoted server holds")
        .atMost(Duration.ofSeconds(10))
        .until(() -> history.holdingsRead() > read);

    // Below what the server holds (V2): a regression only what it holds can show.
    redis.hset("k", "__v", V1);
    // Above it, below what it was written before (V4): none.
    redis.hset("k", "__v", V3);
    awaitSeen();
    assertThat(history.regressions())
        .extracting(WriteHistory.Regression::key, WriteHistory.Regression::written)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("k", V1));
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
