package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.Daemon;
import io.cachesync.testing.SyncHarness;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A daemon stopped right after it started, while Debezium's task is still starting (Debezium then
 * refuses to stop its engine), stops streaming for good: nothing keeps the replication slot.
 */
class EarlyStopIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("earlystop");
    harness.sql("CREATE TABLE items (id int PRIMARY KEY, value int)");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void stop_rightAfterTheStart_leavesTheSlotUnused() throws Exception {
    Daemon daemon = harness.start(MAPPING);
    // Debezium's task is starting once it opened its replication connection.
    await("Debezium's task connecting")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(5))
        .until(
            () ->
                query(
                    "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'walsender'"
                        + " AND datname = current_database()"));

    harness.stopDaemon();

    assertThat(daemon.terminated()).isDone();
    // Without the wait for Debezium's task, its engine went on and held the slot after the stop.
    await("the slot released").atMost(Duration.ofSeconds(30)).until(() -> !slotActive());
    await("still released a while later")
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(10))
        .until(() -> !slotActive());
  }

  private boolean slotActive() throws Exception {
    return query(
        "SELECT coalesce(bool_or(active), false) FROM pg_replication_slots"
            + " WHERE database = current_database()");
  }

  private boolean query(String sql) throws Exception {
    try (var connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery(sql)) {
      row.next();
      return row.getBoolean(1);
    }
  }
}
