package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A resync racing a writer that hammers the same rows with updates, deletes and re-inserts: once
 * everything is applied, no key is stale (regressed) and none is left for a deleted row
 * (resurrected), as verify checks.
 */
class ResyncRaceIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final int ROWS = 3_000;

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("race");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void resync_whileAWriterHammersTheSameRows_endsConsistent() throws Exception {
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int, note text)",
        "INSERT INTO items SELECT i, 0, 'start' FROM generate_series(1, " + ROWS + ") i");
    harness.start(MAPPING);
    await().atMost(Duration.ofSeconds(60)).until(() -> harness.redis.keys("item:*").size() == ROWS);

    long seed = System.nanoTime();
    System.out.println("seed=" + seed);
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger statements = new AtomicInteger();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              Random random = new Random(seed);
              try (Connection connection = harness.postgres.connect(harness.database);
                  Statement statement = connection.createStatement()) {
                while (writing.get() && statements.get() < 50_000) {
                  int id = 1 + random.nextInt(ROWS);
                  switch (random.nextInt(4)) {
                    case 0 -> statement.execute("DELETE FROM items WHERE id = " + id);
                    case 1 ->
                        statement.execute(
                            "INSERT INTO items VALUES ("
                                + id
                                + ", 0, 'again') ON CONFLICT (id) DO NOTHING");
                    default ->
                        statement.execute(
                            "UPDATE items SET value = value + 1, note = 'n"
                                + statements.get()
                                + "' WHERE id = "
                                + id);
                  }
                  statements.incrementAndGet();
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });

    CommandRun resync =
        CommandRun.of("resync", "--config", harness.config(MAPPING).toString(), "--quiet");
    writing.set(false);
    writer.join();

    assertThat(resync.exitCode()).as(resync.output()).isEqualTo(ExitCode.OK);
    harness.sql("INSERT INTO items VALUES (" + (ROWS + 1) + ", 0, 'marker')");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> harness.redis.redis().exists("item:" + (ROWS + 1)) == 1);
    CommandRun verify = CommandRun.of("verify", "--config", harness.config(MAPPING).toString());
    System.out.println(
        "seed="
            + seed
            + ", "
            + statements.get()
            + " statements raced the resync: "
            + verify.out().strip());
    assertThat(verify.exitCode()).as(verify.output()).isEqualTo(ExitCode.OK);
  }
}
