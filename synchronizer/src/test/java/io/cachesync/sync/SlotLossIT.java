package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.cachesync.Daemon;
import io.cachesync.model.Version;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The replication slot lost while the daemon is stopped: Redis still holds a position, but the
 * changes since then are no longer in any slot, so the next start loads every table again instead
 * of resuming (and silently missing them). A normal restart resumes.
 */
class SlotLossIT {
  /**
   * Longer than the daemon's longest pause (30 s) between two tries of a sweep that failed (the
   * stream not past its fence within 15 s, as on a loaded CI machine), so that failed tries do not
   * fail the test.
   */
  private static final Duration WAIT = Duration.ofSeconds(90);

  private static final String SLOT = "cachesync_" + SyncHarness.NAME;
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  private SyncHarness harness;
  private final ListAppender<ILoggingEvent> daemonLog = new ListAppender<>();

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("slotloss");
    daemonLog.start();
    daemonLogger().addAppender(daemonLog);
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 20) AS i");
  }

  @AfterEach
  void tearDown() {
    daemonLogger().detachAppender(daemonLog);
    harness.close();
  }

  private static Logger daemonLogger() {
    return (Logger) LoggerFactory.getLogger(Daemon.class);
  }

  @Test
  void start_slotDroppedWhileStopped_reloadsEveryTable() throws Exception {
    syncThenStop();
    harness.postgres.execute("postgres", "SELECT pg_drop_replication_slot('" + SLOT + "')");
    changeRows();

    Daemon daemon = harness.start(MAPPING);

    assertThat(daemon.loadsEverything()).as("reloads after the slot was dropped").isTrue();
    assertThat(daemonMessages())
        .anyMatch(line -> line.contains("is gone although Redis holds a position"));
    awaitRedisMatchesTable();
    assertThat(daemon.synchronizer().counts().changes()).isGreaterThanOrEqualTo(20);
    System.out.printf(
        "SlotLossIT: slot dropped while stopped -> reloaded %d rows, Redis equals the table%n",
        daemon.synchronizer().counts().changes());
  }

  @Test
  void start_slotRecreatedWhileStopped_reloadsEveryTable() throws Exception {
    syncThenStop();
    // A logical slot belongs to the database it is created in: recreate it in the test's one.
    harness.sql(
        "SELECT pg_drop_replication_slot('" + SLOT + "')",
        "SELECT pg_create_logical_replication_slot('" + SLOT + "', 'pgoutput')");
    changeRows();

    Daemon daemon = harness.start(MAPPING);

    assertThat(daemon.loadsEverything()).as("reloads after the slot was recreated").isTrue();
    assertThat(daemonMessages())
        .anyMatch(line -> line.contains("past the position stored in Redis"));
    awaitRedisMatchesTable();
    assertThat(daemon.synchronizer().counts().changes()).isGreaterThanOrEqualTo(20);
    System.out.printf(
        "SlotLossIT: slot recreated while stopped -> reloaded %d rows, Redis equals the table%n",
        daemon.synchronizer().counts().changes());
  }

  @Test
  void start_initialLoadInterrupted_reloadsOnANewSlot() throws Exception {
    // Offsets Debezium saved in the middle of its own initial load, as a daemon of an earlier
    // version (which loaded through Debezium's snapshot) left them when it was killed.
    syncThenStop(true);
    markOffsetsMidLoad();
    changeRows();

    Daemon daemon = harness.start(MAPPING);

    assertThat(daemon.loadsEverything()).as("loads again after an interrupted load").isTrue();
    assertThat(daemonMessages())
        .anyMatch(line -> line.contains("the initial load was interrupted"));
    // The delete made while stopped is in no slot the new load streams from: the sweep after the
    // load removes its key, or Redis would not equal the table.
    awaitRedisMatchesTable();
    System.out.println(
        "SlotLossIT: offsets written mid-load -> reloaded on a new slot, Redis equals the table");
  }

  @Test
  void start_afterNormalStop_resumesWithoutReloading() throws Exception {
    syncThenStop();
    changeRows();

    Daemon daemon = harness.start(MAPPING);

    assertThat(daemon.loadsEverything()).as("resumes after a normal stop").isFalse();
    awaitRedisMatchesTable();
    assertThat(daemon.synchronizer().counts().changes())
        .as("only the three changes made while stopped, no reload")
        .isEqualTo(3);
    assertThat(daemonMessages())
        .noneMatch(line -> line.contains("loading every mapped table again"));
    System.out.println(
        "SlotLossIT: normal stop/start -> resumed, streamed the 3 changes made while stopped");
  }

  @Test
  void start_sweepRecordedButNotFinished_sweepsAfterResuming() throws Exception {
    syncThenStop();
    // What a replica promoted before a reload's sweep was replicated holds: the key of a row
    // deleted before the reload, and the sweep still recorded.
    String sweep = "cachesync:" + SyncHarness.NAME + ":sweep";
    harness
        .redis
        .redis()
        .hset("user:999", Map.of("id", "999", "name", "gone", "__v", new Version(1, 8).text()));
    harness.redis.redis().set(sweep, "after the load begun earlier");

    Daemon daemon = harness.start(MAPPING);

    assertThat(daemon.loadsEverything()).as("resumes: the slot and offsets are intact").isFalse();
    awaitRedisMatchesTable();
    await("the sweep recorded as done")
        .atMost(WAIT)
        .until(() -> harness.redis.redis().exists(sweep) == 0);
    assertThat(daemonMessages()).anyMatch(line -> line.contains("removed 1 keys"));
    System.out.println(
        "SlotLossIT: a sweep recorded but not finished -> the resumed daemon swept the orphan key");
  }

  @Test
  void start_afterAReloadStoppedBeforeItsSlotWasMade_stillSweeps() throws Exception {
    syncThenStop();
    // What a reload leaves when it stops right after resetting the state and dropping the slot:
    // no offsets, no slot, and the sweep recorded. The next start looks like a first start.
    String prefix = "cachesync:" + SyncHarness.NAME + ":";
    harness.redis.redis().del(prefix + "offsets", prefix + "position");
    harness.redis.redis().set(prefix + "sweep", "after the load begun earlier");
    harness.postgres.execute("postgres", "SELECT pg_drop_replication_slot('" + SLOT + "')");
    harness
        .redis
        .redis()
        .hset("user:999", Map.of("id", "999", "name", "gone", "__v", new Version(1, 8).text()));

    Daemon daemon = harness.start(MAPPING);

    assertThat(daemon.loadsEverything()).isTrue();
    assertThat(daemonMessages()).anyMatch(line -> line.contains("First start"));
    awaitRedisMatchesTable();
    // The sweep logs once done, just after its last delete.
    await("the sweep's line")
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(daemonMessages()).anyMatch(line -> line.contains("removed 1 keys")));
    System.out.println(
        "SlotLossIT: a reload stopped before its slot was made -> the next start swept the orphan");
  }

  /** Starts the daemon, waits until every row is in Redis, and stops it. */
  private void syncThenStop() throws Exception {
    syncThenStop(false);
  }

  /**
   * @param offsets whether to stream a change before the stop, so that Debezium stores offsets (it
   *     stores none before it streamed something)
   */
  private void syncThenStop(boolean offsets) throws Exception {
    Daemon first = harness.start(MAPPING);
    assertThat(first.loadsEverything()).as("first start loads").isTrue();
    awaitRedisMatchesTable();
    if (offsets) {
      harness.sql("UPDATE users SET name = name WHERE id = 1");
      await("Debezium's offsets stored")
          .atMost(WAIT)
          .until(
              () -> harness.redis.redis().hlen("cachesync:" + SyncHarness.NAME + ":offsets") > 1);
    }
    harness.stopDaemon();
    assertThat(harness.redis.redis().hget("cachesync:" + SyncHarness.NAME + ":offsets", "__epoch"))
        .as("state epoch")
        .isNotNull();
    synchronized (daemonLog) {
      daemonLog.list.clear();
    }
  }

  /**
   * Rewrites the stored offsets as Debezium writes them while the initial load runs, as if the
   * daemon had been killed between the last flush inside the load and the first after it.
   */
  private void markOffsetsMidLoad() throws Exception {
    String key = "cachesync:" + SyncHarness.NAME + ":offsets";
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    Base64.Decoder decoder = Base64.getDecoder();
    int rewritten = 0;
    for (var entry : harness.redis.redis().hgetall(key).entrySet()) {
      if (entry.getKey().equals("__epoch")) {
        continue;
      }
      var offset =
          (com.fasterxml.jackson.databind.node.ObjectNode)
              json.readTree(decoder.decode(entry.getValue()));
      offset.put("snapshot", "INITIAL").put("last_snapshot_record", false);
      offset.put("snapshot_completed", false);
      harness
          .redis
          .redis()
          .hset(
              key,
              entry.getKey(),
              Base64.getEncoder().encodeToString(json.writeValueAsBytes(offset)));
      rewritten++;
    }
    assertThat(rewritten).as("offsets stored").isPositive();
  }

  /** One update, one delete and one insert, made while no daemon runs. */
  private void changeRows() {
    harness.sql(
        "UPDATE users SET name = 'renamed' WHERE id = 3",
        "DELETE FROM users WHERE id = 7",
        "INSERT INTO users VALUES (21, 'user 21')");
  }

  private void awaitRedisMatchesTable() {
    try {
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  harness.assertRedisHolds(
                      "user:*", harness.rowsAsHashes("SELECT id, name FROM users", "user:")));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          e.getMessage() + "\nThe daemon logged:\n" + String.join("\n", daemonMessages()), e);
    }
  }

  /** What the daemon logged so far; the appender appends under its own lock. */
  private List<String> daemonMessages() {
    synchronized (daemonLog) {
      return daemonLog.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }
}
