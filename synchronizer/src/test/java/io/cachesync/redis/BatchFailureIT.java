package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.TableId;
import io.cachesync.model.Ttl;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.testing.CacheWriterFixture;
import io.lettuce.core.AclSetuserArgs;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.protocol.CommandType;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * How a batch fails: a read that times out while the batch is built, a script error that is not the
 * value's fault, and a Redis that lost acknowledged batches. None of them may leave the connection
 * unusable, advance the position past a change that is not applied, or write anything that a replay
 * of the lost changes would then take for newer.
 */
class BatchFailureIT {
  private static final TableId DOCS = TableId.parse("public.docs");
  private static final Version V1 = new Version(0x100, 0x10);
  private static final Version V2 = new Version(0x200, 0x20);
  private static final Version V3 = new Version(0x300, 0x30);

  @Test
  void apply_readForAToastMergeTimesOut_theRetryAppliesTheBatch() throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:readfail:")) {
      fixture.writer.apply(List.of(doc("doc:1", V1, "long text", "first")), V1, Version.ZERO);
      List<CacheOperation> batch = List.of(doc("doc:1", V2, null, "second"));
      // Redis answers nothing for longer than the command timeout (10 s), the connection intact.
      fixture.redis.redis().clientPause(11_000);

      Throwable failure = catchThrowable(() -> fixture.writer.apply(batch, V2, V1));

      assertThat(failure).isInstanceOf(RedisUnavailableException.class);
      fixture.redis.redis().ping(); // answered once the pause is over
      fixture.writer.apply(batch, V2, V1);
      assertThat(fixture.redis.redis().get("doc:1"))
          .isEqualTo(
              "{\"__v\":\""
                  + V2.text()
                  + "\",\"id\":1,\"body\":\"long text\",\"title\":\"second\"}");
      assertThat(fixture.writer.position()).contains(V2);
    }
  }

  @Test
  void apply_interruptedWhileReadingForAToastMerge_theRetryAppliesTheBatch() throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:interrupted:")) {
      fixture.writer.apply(List.of(doc("doc:2", V1, "long text", "first")), V1, Version.ZERO);
      List<CacheOperation> batch = List.of(doc("doc:2", V2, null, "second"));
      // A read made for the merge fails at once (here: the thread is interrupted, as on shutdown).
      // Redis answers nothing for 2 s, so the writer waits for a reply, and sees the interrupt,
      // whatever the machine's speed: an answer already there is taken without looking at it.
      fixture.redis.redis().clientPause(2_000);
      Thread.currentThread().interrupt();

      Throwable failure = catchThrowable(() -> fixture.writer.apply(batch, V2, V1));
      Thread.interrupted();

      assertThat(failure).isInstanceOf(RedisUnavailableException.class);
      fixture.redis.redis().ping(); // answered once the pause is over
      fixture.writer.apply(batch, V2, V1);
      assertThat(fixture.redis.redis().get("doc:2"))
          .isEqualTo(
              "{\"__v\":\""
                  + V2.text()
                  + "\",\"id\":2,\"body\":\"long text\",\"title\":\"second\"}");
    }
  }

  @Test
  void apply_scriptRefusedByTheAcl_failsWithoutEvictingOrStoringThePosition() throws Exception {
    try (CacheWriterFixture admin = CacheWriterFixture.direct("cachesync:acl:")) {
      // The user may run every command but EXPIRE, which write_hash.lua runs for a TTL.
      admin
          .redis
          .redis()
          .aclSetuser(
              "limited",
              AclSetuserArgs.Builder.on()
                  .addPassword("secret")
                  .allCommands()
                  .removeCommand(CommandType.EXPIRE)
                  .allKeys());
      admin.redis.redis().hset("user:1", Map.of("__v", V1.text(), "name", "before"));
      String uri = admin.server.uri().replace("redis://", "redis://limited:secret@");
      try (LettuceCacheWriter writer =
          LettuceCacheWriter.connect(new RedisSettings(uri), "cachesync:acl:")) {
        writer.apply(List.of(doc("doc:1", V1, "text", "first")), V1, Version.ZERO);
        Write user =
            new Write(
                TableId.parse("public.users"),
                "user:1",
                ValueFormat.HASH,
                Map.of("name", ColumnValue.text("after")),
                V2,
                Optional.of(Ttl.parse("1h")));

        RedisUnavailableException refused =
            catchThrowableOfType(
                RedisUnavailableException.class,
                () -> writer.apply(List.of(user, doc("doc:1", V2, "text", "second")), V2, V1));

        assertThat(refused).hasMessageContaining("can't run this command");
        assertThat(writer.position()).as("not past the change that failed").contains(V1);
        assertThat(admin.redis.redis().hget("cachesync:acl:position", "applied"))
            .as("the read-your-writes bound put back with the position")
            .isEqualTo(V1.appliedText());
        assertThat(admin.redis.redis().exists("user:1")).as("not evicted").isOne();
      }
    }
  }

  @Test
  void apply_redisLostAcknowledgedBatches_writesNothingAndTheReplayWins() throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:lost:")) {
      List<CacheOperation> first = List.of(doc("doc:7", V1, "body 1", "title 1"));
      Write second = doc("doc:7", V2, "body 2", "title 2");
      Write third = doc("doc:7", V3, null, "title 3");
      fixture.writer.apply(first, V1, Version.ZERO);
      fixture.writer.apply(List.of(second), V2, V1);
      // A failover to a replica that had only the first batch.
      fixture.redis.redis().flushall();
      fixture.writer.apply(first, V1, Version.ZERO);

      catchThrowableOfType(
          CacheRolledBackException.class, () -> fixture.writer.apply(List.of(third), V3, V2));

      assertThat(fixture.redis.redis().get("doc:7")).as("nothing written").contains(V1.text());
      // The daemon streams again from what Redis holds.
      fixture.writer.apply(List.of(second, third), V3, V1);
      assertThat(fixture.redis.redis().get("doc:7"))
          .isEqualTo(
              "{\"__v\":\"" + V3.text() + "\",\"id\":7,\"body\":\"body 2\",\"title\":\"title 3\"}");
    }
  }

  @Test
  void apply_connectionDropsBetweenTheWatchAndTheMulti_redisAppliesNothingAndTheRetryChecksAgain()
      throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:rewatch:")) {
      RedisCommands<String, String> redis = fixture.redis.redis();
      fixture.writer.apply(List.of(user("user:1", V1, "name 1", "bio 1")), V1, Version.ZERO);
      fixture.writer.apply(List.of(user("user:1", V2, "name 2", "bio 2")), V2, V1);
      AtomicBoolean armed = new AtomicBoolean(true);
      // Once the batch read the position (V2, as acknowledged) under WATCH: its connection drops,
      // then a failover to a replica that had only V1, then the batch goes on.
      fixture.writer.beforeMulti(
          connection -> {
            if (armed.getAndSet(false)) {
              dropAndAwaitLettuce(connection, redis);
              redis.hset("user:1", Map.of("__v", V1.text(), "name", "name 1", "bio", "bio 1"));
              redis.hset("cachesync:rewatch:position", "version", V1.text());
            }
          });
      Write third = user("user:1", V3, "name 3", null);

      Throwable failure = catchThrowable(() -> fixture.writer.apply(List.of(third), V3, V2));

      assertThat(redis.hgetall("user:1"))
          .as("nothing merged from the rolled-back value")
          .containsEntry("__v", V1.text())
          .containsEntry("bio", "bio 1");
      assertThat(failure).isInstanceOf(RedisUnavailableException.class);
      // The retry opens a connection, reads again and sees the rollback.
      catchThrowableOfType(
          CacheRolledBackException.class, () -> fixture.writer.apply(List.of(third), V3, V2));
      assertThat(fixture.writer.position()).contains(V1);
      fixture.writer.apply(List.of(user("user:1", V2, "name 2", "bio 2"), third), V3, V1);
      assertThat(redis.hgetall("user:1"))
          .containsEntry("__v", V3.text())
          .containsEntry("name", "name 3")
          .containsEntry("bio", "bio 2");
    }
  }

  @Test
  void apply_afterAFailureWithAnAclWithoutClientId_goesOnWithoutClosingEarlierConnections()
      throws Exception {
    try (CacheWriterFixture admin = CacheWriterFixture.direct("cachesync:noclient:")) {
      admin
          .redis
          .redis()
          .aclSetuser(
              "noclient",
              AclSetuserArgs.Builder.on()
                  .addPassword("secret")
                  .allCommands()
                  .removeCommand(CommandType.CLIENT)
                  .allKeys());
      String uri = admin.server.uri().replace("redis://", "redis://noclient:secret@");
      try (LettuceCacheWriter writer =
          LettuceCacheWriter.connect(new RedisSettings(uri), "cachesync:noclient:")) {
        writer.apply(List.of(user("user:1", V1, "name 1", "bio 1")), V1, Version.ZERO);
        AtomicBoolean armed = new AtomicBoolean(true);
        writer.beforeMulti(
            connection -> {
              if (armed.getAndSet(false)) {
                admin.redis.redis().clientKill(KillArgs.Builder.user("noclient"));
                await().atMost(Duration.ofSeconds(10)).until(() -> !connection.isOpen());
              }
            });
        Write second = user("user:1", V2, "name 2", "bio 2");
        assertThat(catchThrowable(() -> writer.apply(List.of(second), V2, V1)))
            .isInstanceOf(RedisUnavailableException.class);

        // The retry cannot close the dropped connection in Redis (no CLIENT): it warns, goes on.
        writer.apply(List.of(second), V2, V1);

        assertThat(writer.position()).contains(V2);
        assertThat(admin.redis.redis().hget("user:1", "name")).isEqualTo("name 2");
      }
    }
  }

  /**
   * Closes {@code connection} in Redis and waits for what Lettuce does about it: a connection that
   * reconnects by itself is open again on a new Redis connection, another one is closed.
   */
  private static void dropAndAwaitLettuce(
      StatefulRedisConnection<String, String> connection, RedisCommands<String, String> redis) {
    long killed = clientId(connection);
    redis.clientKill(KillArgs.Builder.id(killed));
    if (connection.getOptions().isAutoReconnect()) {
      await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptions()
          .until(() -> connection.isOpen() && clientId(connection) != killed);
    } else {
      await().atMost(Duration.ofSeconds(10)).until(() -> !connection.isOpen());
    }
  }

  private static long clientId(StatefulRedisConnection<String, String> connection) {
    RedisFuture<Long> id = connection.async().clientId();
    connection.flushCommands();
    return LettuceClients.await(id);
  }

  @Test
  void apply_mergeReadRefusedByTheAcl_failsWithoutEvictingOrStoringThePosition() throws Exception {
    try (CacheWriterFixture admin = CacheWriterFixture.direct("cachesync:noget:")) {
      // The user may run every command but GET, which the writer sends to read a JSON value that
      // unchanged TOAST columns are merged from (the scripts read with GETRANGE).
      admin
          .redis
          .redis()
          .aclSetuser(
              "noget",
              AclSetuserArgs.Builder.on()
                  .addPassword("secret")
                  .allCommands()
                  .removeCommand(CommandType.GET)
                  .allKeys());
      String uri = admin.server.uri().replace("redis://", "redis://noget:secret@");
      try (LettuceCacheWriter writer =
          LettuceCacheWriter.connect(new RedisSettings(uri), "cachesync:noget:")) {
        writer.apply(List.of(doc("doc:1", V1, "long text", "first")), V1, Version.ZERO);

        RedisUnavailableException refused =
            catchThrowableOfType(
                RedisUnavailableException.class,
                () -> writer.apply(List.of(doc("doc:1", V2, null, "second")), V2, V1));

        assertThat(refused).hasMessageContaining("NOPERM");
        assertThat(writer.position()).as("not past the change that failed").contains(V1);
        assertThat(admin.redis.redis().get("doc:1")).as("not evicted").contains(V1.text());
      }
    }
  }

  @Test
  void apply_keyOfAnotherType_countsTheKeyEvicted() throws Exception {
    try (CacheWriterFixture fixture = CacheWriterFixture.direct("cachesync:wrongtype:")) {
      fixture.redis.redis().rpush("user:4", "not a hash");

      BatchOutcome outcome =
          fixture.writer.apply(List.of(user("user:4", V1, "name", "bio")), V1, Version.ZERO);

      assertThat(fixture.redis.redis().exists("user:4")).isZero();
      assertThat(outcome.evicted()).isOne();
      assertThat(outcome.failures()).singleElement().asString().contains("evicted");
    }
  }

  /** A hash row; a null bio is an unchanged TOAST column. */
  private static Write user(String key, Version version, String name, String bio) {
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    values.put("name", ColumnValue.text(name));
    values.put("bio", bio == null ? new ColumnValue.Unchanged() : ColumnValue.text(bio));
    return new Write(
        TableId.parse("public.users"), key, ValueFormat.HASH, values, version, Optional.empty());
  }

  /** A JSON row; a null body is an unchanged TOAST column. */
  private static Write doc(String key, Version version, String body, String title) {
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    values.put("id", new ColumnValue.Number(key.substring(key.indexOf(':') + 1)));
    values.put("body", body == null ? new ColumnValue.Unchanged() : ColumnValue.text(body));
    values.put("title", ColumnValue.text(title));
    return new Write(DOCS, key, ValueFormat.JSON, values, version, Optional.empty());
  }
}
