package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.model.Version;
import io.cachesync.redis.LettuceCacheWriter;
import io.cachesync.testing.CacheFence;
import io.cachesync.testing.SyncHarness;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The read-your-writes fence of the README ({@link CacheFence}, {@link Version#applied()}): once
 * the fence taken after a COMMIT is reached, Redis holds exactly what that transaction committed.
 */
class ReadYourWritesIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final Duration FENCE_TIMEOUT = Duration.ofSeconds(15);
  private static final String POSITION = "cachesync:" + SyncHarness.NAME + ":position";
  private static final String CHANNEL = "cachesync:" + SyncHarness.NAME + ":applied";

  private SyncHarness harness;
  private RedisClient client;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("fence");
    client = RedisClient.create(harness.redisServer.uri());
  }

  @AfterEach
  void tearDown() {
    client.shutdown();
    harness.close();
  }

  /** Starts the daemon on 200 rows and waits until it streams (the applied bound is set). */
  private void startStreaming() throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, value text NOT NULL)",
        "INSERT INTO items SELECT i, 'initial' FROM generate_series(1, 200) i");
    harness.start(MAPPING);
    try (Connection postgres = harness.postgres.connect(harness.database);
        CacheFence fence = new CacheFence(client, SyncHarness.NAME)) {
      assertThat(fence.await(CacheFence.take(postgres), Duration.ofSeconds(60)))
          .as("the first fence after the initial load")
          .isTrue();
    }
  }

  @Test
  void fence_afterATruncateFinishedInTheBackground_isReachedOnlyOnceItsKeysAreGone()
      throws Exception {
    // Every TRUNCATE's evictions go to the background at once, and take a while: a keyspace of
    // 300,000 other keys to scan.
    System.setProperty(LettuceCacheWriter.TRUNCATE_BUDGET_MILLIS, "0");
    try {
      startStreaming();
      harness.sql("INSERT INTO items SELECT i, 'more' FROM generate_series(201, 5000) i");
      harness
          .redis
          .redis()
          .eval(
              "for i = 1, 300000 do redis.call('SET', 'other:' .. i, 'x') end return 0",
              io.lettuce.core.ScriptOutputType.INTEGER);
      try (Connection postgres = harness.postgres.connect(harness.database);
          CacheFence fence = new CacheFence(client, SyncHarness.NAME)) {
        assertThat(fence.await(CacheFence.take(postgres), FENCE_TIMEOUT)).isTrue();
        assertThat(harness.redis.redis().exists("item:5000")).isEqualTo(1);

        try (var statement = postgres.createStatement()) {
          statement.execute("TRUNCATE items");
        }
        assertThat(fence.await(CacheFence.take(postgres), Duration.ofSeconds(60))).isTrue();
        assertThat(harness.redis.keys("item:*"))
            .as("keys of the truncated table right after the fence")
            .isEmpty();
      }
    } finally {
      System.clearProperty(LettuceCacheWriter.TRUNCATE_BUDGET_MILLIS);
    }
  }

  @Test
  void fence_afterEachCommittedUpdate_redisHoldsTheCommittedValue() throws Exception {
    startStreaming();
    long seed = System.nanoTime();
    System.out.println("ReadYourWritesIT seed: " + seed);
    Random random = new Random(seed);
    try (Connection postgres = harness.postgres.connect(harness.database);
        CacheFence fence = new CacheFence(client, SyncHarness.NAME);
        StatefulRedisConnection<String, String> polling = client.connect()) {
      for (int iteration = 0; iteration < 300; iteration++) {
        long id = 1 + random.nextInt(20);
        String value = "v" + iteration + "-" + Long.toHexString(random.nextLong());
        update(postgres, id, value);
        String target = CacheFence.take(postgres);

        boolean reached =
            iteration % 3 == 2
                ? CacheFence.poll(
                    polling, SyncHarness.NAME, target, FENCE_TIMEOUT, Duration.ofMillis(2))
                : fence.await(target, FENCE_TIMEOUT);

        assertThat(reached)
            .as("fence %s of iteration %d (seed %d)", target, iteration, seed)
            .isTrue();
        assertThat(harness.redis.redis().hget("item:" + id, "value"))
            .as("item:%d right after fence %s, iteration %d (seed %d)", id, target, iteration, seed)
            .isEqualTo(value);
      }
    }
  }

  @Test
  void fence_whileAnotherWriterUpdatesOtherRows_redisHoldsTheCommittedValue() throws Exception {
    startStreaming();
    long seed = System.nanoTime();
    System.out.println("ReadYourWritesIT concurrent seed: " + seed);
    Random random = new Random(seed);
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try (Connection postgres = harness.postgres.connect(harness.database);
        CacheFence fence = new CacheFence(client, SyncHarness.NAME)) {
      Future<Integer> writer = executor.submit(() -> writeOtherRows(writing, seed));
      for (int iteration = 0; iteration < 150; iteration++) {
        long id = 1 + random.nextInt(20);
        String value = "c" + iteration + "-" + Long.toHexString(random.nextLong());
        update(postgres, id, value);
        String target = CacheFence.take(postgres);

        assertThat(fence.await(target, FENCE_TIMEOUT))
            .as("fence %s of iteration %d (seed %d)", target, iteration, seed)
            .isTrue();
        assertThat(harness.redis.redis().hget("item:" + id, "value"))
            .as("item:%d right after fence %s, iteration %d (seed %d)", id, target, iteration, seed)
            .isEqualTo(value);
      }
      writing.set(false);
      assertThat(writer.get()).as("transactions of the other writer").isGreaterThan(20);
    } finally {
      writing.set(false);
      executor.shutdownNow();
    }
  }

  /**
   * Rows 101..200, in transactions of one to five updates, until told to stop; returns how many.
   */
  private int writeOtherRows(AtomicBoolean writing, long seed) throws Exception {
    Random random = new Random(seed + 1);
    int transactions = 0;
    try (Connection postgres = harness.postgres.connect(harness.database)) {
      postgres.setAutoCommit(false);
      while (writing.get()) {
        for (int i = random.nextInt(5); i >= 0; i--) {
          update(postgres, 101 + random.nextInt(100), "other-" + random.nextInt());
        }
        postgres.commit();
        transactions++;
      }
    }
    return transactions;
  }

  @Test
  void fence_idleDatabase_reachedByTheFenceMessageItselfWellBeforeTheNextHeartbeat()
      throws Exception {
    startStreaming();
    List<String> published = new CopyOnWriteArrayList<>();
    try (Connection postgres = harness.postgres.connect(harness.database);
        CacheFence fence = new CacheFence(client, SyncHarness.NAME);
        StatefulRedisPubSubConnection<String, String> listener = subscribe(published)) {
      for (int round = 0; round < 5; round++) {
        update(postgres, 7, "idle-" + round);
        String target = CacheFence.take(postgres);
        long start = System.nanoTime();

        assertThat(fence.await(target, Duration.ofSeconds(5)))
            .as("fence %s on an idle database, within 5 s (heartbeats come every 10 s)", target)
            .isTrue();

        System.out.printf(
            "idle fence %s reached in %d ms%n", target, (System.nanoTime() - start) / 1_000_000);
        assertThat(harness.redis.redis().hget("item:7", "value")).isEqualTo("idle-" + round);
        // The bound published for the fence's own message is the LSN pg_logical_emit_message
        // returned: Debezium streamed the message (prefix cachesync_fence) at that LSN.
        await("the fence's own bound published")
            .atMost(Duration.ofSeconds(5))
            .untilAsserted(() -> assertThat(published).contains(target));
      }
    }
  }

  @Test
  void fence_currentWalLsnOnAnIdleDatabase_reachedWithTheNextHeartbeat() throws Exception {
    startStreaming();
    try (Connection postgres = harness.postgres.connect(harness.database);
        CacheFence fence = new CacheFence(client, SyncHarness.NAME)) {
      update(postgres, 9, "current-lsn");
      String target = CacheFence.query(postgres, CacheFence.CURRENT_LSN_SQL);
      long start = System.nanoTime();
      await("the update in Redis")
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(2))
          .until(() -> "current-lsn".equals(harness.redis.redis().hget("item:9", "value")));
      List<String> position = hmget("version", "applied");
      if (Version.parse(position.get(0)).lsn() < Long.parseUnsignedLong(target, 16)) {
        // Redis holds the update's own batch, not yet a later heartbeat's: the update's batch
        // alone does not reach a fence at or past its commit, since its changes lie before it.
        assertThat(position.get(1)).as("applied with the update's batch").isLessThan(target);
      }

      assertThat(fence.await(target, Duration.ofSeconds(15)))
          .as("fence %s at the current WAL position, with the next heartbeat", target)
          .isTrue();

      System.out.printf(
          "current-LSN fence %s reached in %d ms%n",
          target, (System.nanoTime() - start) / 1_000_000);
      assertThat(harness.redis.redis().hget("item:9", "value")).isEqualTo("current-lsn");
    }
  }

  @Test
  void applied_duringTheInitialLoad_isAbsentAndSetOnceStreaming() throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, value text NOT NULL)",
        "INSERT INTO items SELECT i, repeat('x', 100) FROM generate_series(1, 60000) i");
    harness.start(MAPPING);
    List<List<String>> samples = new ArrayList<>();
    await("a streamed position")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(5))
        .until(
            () -> {
              List<String> sample = hmget("version", "applied");
              samples.add(sample);
              return sample.get(0) != null && !Version.parse(sample.get(0)).initialLoad();
            });

    List<List<String>> duringLoad =
        samples.stream()
            .filter(s -> s.get(0) != null && Version.parse(s.get(0)).initialLoad())
            .toList();
    assertThat(duringLoad).as("positions seen during the initial load").isNotEmpty();
    assertThat(duringLoad)
        .as("applied during the initial load")
        .allSatisfy(s -> assertThat(s.get(1)).isNull());
    List<String> last = samples.get(samples.size() - 1);
    assertThat(last.get(1)).isEqualTo(Version.parse(last.get(0)).appliedText());
    assertThat(harness.redis.redis().exists("item:60000")).isOne();
  }

  private List<String> hmget(String... fields) {
    return harness.redis.redis().hmget(POSITION, fields).stream()
        .map(value -> value.getValueOrElse(null))
        .toList();
  }

  private StatefulRedisPubSubConnection<String, String> subscribe(List<String> published) {
    StatefulRedisPubSubConnection<String, String> connection = client.connectPubSub();
    connection.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            published.add(message);
          }
        });
    connection.sync().subscribe(CHANNEL);
    return connection;
  }

  private static void update(Connection postgres, long id, String value) throws Exception {
    try (var statement = postgres.prepareStatement("UPDATE items SET value = ? WHERE id = ?")) {
      statement.setString(1, value);
      statement.setLong(2, id);
      assertThat(statement.executeUpdate()).isOne();
    }
  }
}
