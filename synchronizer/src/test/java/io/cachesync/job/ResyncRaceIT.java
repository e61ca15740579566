package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

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

  /** Statements the writer has run. */
  private final AtomicInteger statements = new AtomicInteger();

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
    CommandRun verify = race(this::resync);
    assertThat(verify.exitCode()).as(verify.output()).isEqualTo(ExitCode.OK);
  }

  private void resync() {
    CommandRun resync =
        CommandRun.of("resync", "--config", harness.config(MAPPING).toString(), "--quiet");
    assertThat(resync.exitCode()).as(resync.output()).isEqualTo(ExitCode.OK);
  }

  /**
   * The same race with chunks of one page (about 150 rows), so that the writer's changes land
   * inside many watermark windows and the rows they touch must be left to the stream.
   */
  @Test
  void resync_inOnePageChunks_whileAWriterHammersTheSameRows_endsConsistent() throws Exception {
    ListAppender<ILoggingEvent> log = new ListAppender<>();
    log.start();
    Logger loads = (Logger) LoggerFactory.getLogger("io.cachesync.source.ChunkedLoads");
    loads.addAppender(log);
    System.setProperty("cachesync.resyncChunkRows", "1");
    try {
      CommandRun verify = race(this::resync);
      assertThat(verify.exitCode()).as(verify.output()).isEqualTo(ExitCode.OK);
    } finally {
      System.clearProperty("cachesync.resyncChunkRows");
      loads.detachAppender(log);
    }
    String done =
        log.list.stream()
            .map(ILoggingEvent::getFormattedMessage)
            .filter(line -> line.contains(" done: "))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no load ended: " + log.list));
    System.out.println(done);
    Matcher chunks = Pattern.compile(", (\\d+) chunks, ").matcher(done);
    assertThat(chunks.find()).as(done).isTrue();
    assertThat(Long.parseLong(chunks.group(1))).as(done).isGreaterThanOrEqualTo(10);
  }

  /**
   * The same race, with a reload that neither the window nor the version guard protects: rows read
   * once and written back while the writer goes on, as a hand-rolled reload would. The comparison
   * must catch what that leaves (rows deleted meanwhile written back, older values over newer
   * ones): it is what the test above relies on to show the resync safe.
   */
  @Test
  void aReloadWithoutWindowOrGuard_racingTheSameWriter_leavesDriftTheComparisonCatches()
      throws Exception {
    CommandRun verify =
        race(
            () -> {
              Map<String, String> read = new HashMap<>();
              try (Connection connection = harness.postgres.connect(harness.database);
                  Statement statement = connection.createStatement();
                  ResultSet rows = statement.executeQuery("SELECT id, value, note FROM items")) {
                while (rows.next()) {
                  read.put(
                      rows.getString("id"), rows.getString("value") + "|" + rows.getString("note"));
                }
              } catch (SQLException e) {
                throw new IllegalStateException(e);
              }
              // Written back once the writer changed and deleted some of the same rows, and the
              // daemon streamed those changes: written back before, they would be overwritten by
              // the stream's newer versions (a daemon behind on a busy machine), leaving no drift.
              int before = statements.get();
              await().atMost(Duration.ofSeconds(30)).until(() -> statements.get() > before + 500);
              harness.sql("INSERT INTO items VALUES (" + (ROWS + 2) + ", 0, 'streamed')");
              await()
                  .atMost(Duration.ofSeconds(60))
                  .until(() -> harness.redis.redis().exists("item:" + (ROWS + 2)) == 1);
              read.forEach(
                  (id, row) ->
                      harness
                          .redis
                          .redis()
                          .hset(
                              "item:" + id,
                              Map.of(
                                  "__v",
                                  "0".repeat(31) + "1",
                                  "id",
                                  id,
                                  "value",
                                  row.substring(0, row.indexOf('|')),
                                  "note",
                                  row.substring(row.indexOf('|') + 1))));
            });
    assertThat(verify.exitCode()).as(verify.output()).isEqualTo(ExitCode.DRIFT);
  }

  /**
   * Runs the reload while a writer hammers the rows with updates, deletes and re-inserts, lets the
   * daemon catch up, and returns what {@code cachesync verify} found.
   */
  private CommandRun race(Runnable reload) throws Exception {
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int, note text)",
        "INSERT INTO items SELECT i, 0, 'start' FROM generate_series(1, " + ROWS + ") i");
    harness.start(MAPPING);
    await().atMost(Duration.ofSeconds(60)).until(() -> harness.redis.keys("item:*").size() == ROWS);

    long seed = System.nanoTime();
    System.out.println("seed=" + seed);
    AtomicBoolean writing = new AtomicBoolean(true);
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

    try {
      reload.run();
    } finally {
      writing.set(false);
      writer.join();
    }

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
            + " statements raced the reload: "
            + verify.out().strip());
    return verify;
  }
}
