package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.state.StateStore;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TcpProxy;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An orphan sweep (after a reload, after a resync) looks PostgreSQL up as it is now, while the
 * stream may still be behind it. An UPDATE that moved a row to another key and left its TOASTed
 * column alone is applied by merging that column from the old key's cached value; a sweep that
 * deleted the old key first (its row is gone) left the stream nothing to merge, and the moved row's
 * new key was evicted for good: nothing changes the row again. Found by FaultScheduleIT behind
 * Sentinel (a reload, a kill, then the sweep of the restarted daemon). The sweep now hands its
 * orphans over only once the stream has applied what committed before it found them.
 */
class SweepBehindTheStreamIT {
  private static final String MAPPING =
      "tables:\n  - table: public.documents\n    key: \"doc:{id}\"\n    format: json\n";

  private SyncHarness harness;
  private TcpProxy postgresProxy;
  private Configuration configuration;

  @BeforeEach
  void setUp() throws Exception {
    harness = new SyncHarness("sweepbehind");
    postgresProxy = new TcpProxy(harness.postgres.host(), harness.postgres.port());
    harness.sql(
        "CREATE TABLE documents (id bigint PRIMARY KEY, title text, body text)",
        // Out of line and uncompressed whatever its content: an UPDATE that leaves it alone does
        // not send it (REPLICA IDENTITY DEFAULT).
        "ALTER TABLE documents ALTER COLUMN body SET STORAGE EXTERNAL",
        "ALTER TABLE documents REPLICA IDENTITY DEFAULT",
        "INSERT INTO documents VALUES (1, 'first',"
            + " (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i))");
    java.nio.file.Path config =
        harness.configThrough(
            postgresProxy,
            "redis://" + harness.redisServer.host() + ":" + harness.redisServer.port(),
            MAPPING);
    configuration = new ConfigurationLoader(Map.of()).load(config);
    harness.startWith(config);
  }

  @AfterEach
  void tearDown() {
    postgresProxy.restore();
    harness.close();
    postgresProxy.close();
  }

  @Test
  void sweep_whileTheStreamIsBehindAMove_leavesTheMovedRowWhole() throws Exception {
    String body = body();
    await("doc:1 loaded")
        .atMost(Duration.ofSeconds(60))
        .until(() -> harness.redis.redis().exists("doc:1") == 1);
    // Then streamed, not only loaded: the stream runs before it is stopped.
    harness.sql("UPDATE documents SET title = 'streamed' WHERE id = 1");
    await("doc:1 cached, as streamed")
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              String cached = String.valueOf(harness.redis.redis().get("doc:1"));
              return cached.contains("\"title\":\"streamed\"") && cached.contains(body);
            });

    // The stream stops; PostgreSQL moves the row, leaving its body alone.
    postgresProxy.cut();
    harness.sql("UPDATE documents SET id = 68, title = 'moved' WHERE id = 1");
    long moved = fence();

    AtomicInteger boundReads = new AtomicInteger();
    try (StateStore state =
            LettuceStateStore.connect(
                configuration.settings().redis(), configuration.settings().stateKeyPrefix());
        Connection connection = harness.postgres.connect(harness.database);
        LettuceCacheInspector redis =
            LettuceCacheInspector.connect(configuration.settings().redis())) {
      StateStore counted = countingBoundReads(state, boundReads);
      CompletableFuture<Long> sweep =
          CompletableFuture.supplyAsync(
              () -> {
                long[] evicted = {0};
                new OrphanSweeper(connection, redis)
                    .find(
                        configuration.mapping().tables().get(0),
                        new StreamFence(counted, Duration.ofSeconds(90)),
                        (found, fence) ->
                            evicted[0] +=
                                redis.evictBehindTheStream(
                                    found, configuration.settings().stateKeyPrefix(), fence));
                return evicted[0];
              });
      // The sweep has found doc:1 without a row: it either deleted it already (the defect) or
      // waits for the stream.
      await("the sweep found doc:1 an orphan")
          .atMost(Duration.ofSeconds(30))
          .until(() -> sweep.isDone() || boundReads.get() > 0);
      postgresProxy.restore();

      assertThat(new StreamFence(state, Duration.ofSeconds(90)).reached(moved))
          .as("the stream applied the move")
          .isTrue();
      long evicted = sweep.get(90, TimeUnit.SECONDS);
      String cached = harness.redis.redis().get("doc:68");
      assertThat(cached)
          .as("doc:68, merged from doc:1's cached body (the sweep evicted %d keys)", evicted)
          .isNotNull()
          .contains("\"title\":\"moved\"")
          .contains(body);
      assertThat(harness.redis.redis().exists("doc:1")).as("doc:1, moved away").isZero();
    }
  }

  private String body() throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        var row =
            connection
                .createStatement()
                .executeQuery(
                    "SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i")) {
      row.next();
      return row.getString(1);
    }
  }

  /** A fence past the move, which the stream reaches once it applied it. */
  private long fence() throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database)) {
      return StreamFence.take(connection);
    }
  }

  /** {@code state}, counting the reads of the applied bound (the fence's). */
  private static StateStore countingBoundReads(StateStore state, AtomicInteger reads) {
    return (StateStore)
        Proxy.newProxyInstance(
            StateStore.class.getClassLoader(),
            new Class<?>[] {StateStore.class},
            (proxy, method, arguments) -> {
              if (method.getName().equals("applied")) {
                reads.incrementAndGet();
              }
              try {
                return method.invoke(state, arguments);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }
}
