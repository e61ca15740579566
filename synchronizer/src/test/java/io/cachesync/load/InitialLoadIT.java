package io.cachesync.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.Daemon;
import io.cachesync.model.Version;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The initial load in the slot's exported snapshot, read in parallel ranges: exact while writes
 * race it, resumed from without loading again, and replacing what an earlier cache left.
 */
class InitialLoadIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    // Ranges of 4 pages (about 32 KB, a few hundred rows), so that a small table is read as many
    // ranges by every reader.
    System.setProperty("cachesync.loadPagesPerRange", "4");
    harness = new SyncHarness("initialload");
  }

  @AfterEach
  void tearDown() {
    harness.close();
    System.clearProperty("cachesync.loadPagesPerRange");
  }

  @Test
  void firstStart_manyRangesWhileWritesRace_cachesEveryRowExactly() throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text, n int, note text)",
        "INSERT INTO items SELECT g, 'item ' || g, g % 97, CASE WHEN g % 3 = 0 THEN NULL ELSE"
            + " repeat('x', g % 50) END FROM generate_series(1, 30000) g");
    long seed = System.nanoTime();
    System.out.println("InitialLoadIT seed " + seed);
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicLong transactions = new AtomicLong();
    AtomicReference<Throwable> writerFailure = new AtomicReference<>();
    Thread writer =
        new Thread(
            () -> {
              Random random = new Random(seed);
              try (Connection connection = harness.postgres.connect(harness.database);
                  Statement statement = connection.createStatement()) {
                long next = 30001;
                while (writing.get()) {
                  int id = 1 + random.nextInt(30000);
                  switch (random.nextInt(4)) {
                    case 0 ->
                        statement.execute(
                            "UPDATE items SET n = n + 1, name = 'changed "
                                + id
                                + "' WHERE id = "
                                + id);
                    case 1 -> statement.execute("DELETE FROM items WHERE id = " + id);
                    case 2 ->
                        statement.execute(
                            "INSERT INTO items VALUES (" + next++ + ", 'new', 1, NULL)");
                    default ->
                        statement.execute(
                            "UPDATE items SET id = "
                                + (next++)
                                + " WHERE id = "
                                + id); // a key change: delete of the old key, create of the new
                  }
                  transactions.incrementAndGet();
                }
              } catch (Throwable e) {
                writerFailure.set(e);
              }
            },
            "racing-writer");
    writer.start();
    Daemon daemon;
    try {
      await().atMost(WAIT).until(() -> transactions.get() > 50);
      daemon = harness.start(MAPPING);
      assertThat(daemon.loadsEverything()).isTrue();
      daemon.initialLoad().get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
      long atLoad = transactions.get();
      await().atMost(WAIT).until(() -> transactions.get() > atLoad + 200);
    } finally {
      writing.set(false);
      writer.join();
    }
    assertThat(writerFailure.get()).isNull();
    harness.sql("INSERT INTO items VALUES (0, 'marker', 0, NULL)");
    await().atMost(WAIT).until(() -> harness.redis.redis().exists("item:0") == 1);

    harness.assertRedisHolds(
        "item:*", harness.rowsAsHashes("SELECT id, name, n, note FROM items", "item:"));
    assertThat(daemon.initialLoad().join().values().stream().mapToLong(Long::longValue).sum())
        .as("rows loaded")
        .isGreaterThan(20000);
  }

  @Test
  void restart_afterTheLoadBeforeDebeziumStoredOffsets_streamsOnWithoutLoadingAgain()
      throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text)",
        "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g");
    Daemon first = harness.start(MAPPING);
    first.initialLoad().get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    String position =
        harness.redis.redis().hget("cachesync:" + SyncHarness.NAME + ":position", "version");
    assertThat(Version.parse(position).initialLoad())
        .as("the load's position, " + position)
        .isTrue();
    harness.stopDaemon();
    harness.redis.redis().del("item:5"); // not restored unless the rows are loaded again
    harness.sql(
        "UPDATE items SET name = 'after' WHERE id = 7", "INSERT INTO items VALUES (9999, 'new')");

    Daemon second = harness.start(MAPPING);

    assertThat(second.loadsEverything()).isFalse();
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.hash("item:7")).containsEntry("name", "after");
              assertThat(harness.redis.hash("item:9999")).containsEntry("name", "new");
            });
    assertThat(harness.redis.redis().exists("item:5")).isZero();
  }

  @Test
  void firstStart_keysAnEarlierCacheLeft_areReplacedWhateverTheirVersionOrType() throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text)",
        "INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    // A version above any this server's WAL will reach (a cache of a PostgreSQL since restored
    // from a backup), a stale field, and keys of other types.
    harness.redis.redis().hset("item:1", Map.of("__v", "f".repeat(32), "name", "old", "gone", "x"));
    harness.redis.redis().set("item:2", "a string");
    harness.redis.redis().rpush("item:3", "a list");

    harness
        .start(MAPPING)
        .initialLoad()
        .get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);

    harness.assertRedisHolds("item:*", harness.rowsAsHashes("SELECT id, name FROM items", "item:"));
  }

  @Test
  void killedMidLoad_nextStartLoadsAgainOnANewSlotAndSweepsRowsDeletedMeanwhile() throws Exception {
    harness.sql(
        "CREATE TABLE items (id bigint PRIMARY KEY, name text)",
        "INSERT INTO items SELECT g, repeat('n', 200) FROM generate_series(1, 100000) g");
    java.nio.file.Path config = harness.config(MAPPING);
    // One reader and small ranges: the load takes long enough to be killed in the middle.
    String[] options = {"-Dcachesync.loadPagesPerRange=16", "-Dcachesync.loadReaders=1"};
    try (DaemonProcess first = new DaemonProcess(config, options).start()) {
      first.awaitLog("Initial load: 1 tables", WAIT);
      await().atMost(WAIT).until(() -> harness.redis.redis().dbsize() > 1000);
      first.kill();
      assertThat(first.log()).doesNotContain("Initial load done");
    }
    long partial = harness.redis.redis().dbsize();
    assertThat(partial).as("keys written before the kill").isBetween(1000L, 100000L);
    // Rows the first load cached, deleted while no daemon runs: nothing streams their deletes.
    harness.sql(
        "DELETE FROM items WHERE id <= 500", "UPDATE items SET name = 'new' WHERE id = 600");

    try (DaemonProcess second = new DaemonProcess(config).start()) {
      second.awaitLog("Initial load done", WAIT);
      assertThat(second.log()).contains("loading every mapped table again");
      harness.sql("INSERT INTO items VALUES (0, 'marker')");
      await().atMost(WAIT).until(() -> harness.redis.redis().exists("item:0") == 1);
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  harness.assertRedisHolds(
                      "item:*", harness.rowsAsHashes("SELECT id, name FROM items", "item:")));
    }
  }
}
