package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two {@code cachesync run} of one name started together while the initial load runs: the
 * replication slot is not streamed from during the load, so only the writer's lease in Redis keeps
 * the second from deciding the load was interrupted and starting it again.
 */
class WriterRoleIT {
  private static final int ROWS = 100_000;
  private static final Duration WAIT = Duration.ofSeconds(45);
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final List<String> LOAD_STARTS =
      List.of("First start: loading every mapped table", "loading every mapped table again");

  private SyncHarness harness;
  private Path config;
  private DaemonProcess one;
  private DaemonProcess other;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("writerrole");
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text)",
        "INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, " + ROWS + ") i");
    config = harness.config(MAPPING);
    one = new DaemonProcess(config);
    other = new DaemonProcess(config);
  }

  @AfterEach
  void tearDown() {
    one.close();
    other.close();
    harness.close();
  }

  @Test
  void run_twoDaemonsStartedTogetherDuringTheLoad_oneLoadsTheOtherStandsByAndTakesOver()
      throws Exception {
    one.start();
    other.start();
    await("one initial load done")
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> count("Initial load done") >= 1 && harness.redis.keys("item:*").size() == ROWS);
    DaemonProcess active = one.log().contains("Initial load done") ? one : other;
    DaemonProcess standby = active == one ? other : one;
    standby.awaitLog("Standing by", WAIT);

    assertThat(loadStarts()).as(one.decisions(10) + "\n" + other.decisions(10)).isEqualTo(1);
    assertThat(count("Initial load done")).isEqualTo(1);
    assertThat(standby.log()).doesNotContain("Streaming from replication slot");
    assertThat(slots()).as("replication slots of the synchronizer").isEqualTo(1);
    assertThat(active.alive()).isTrue();

    active.kill();
    standby.awaitLog("Took over replication slot cachesync_it", WAIT);
    harness.sql("UPDATE items SET name = 'changed' WHERE id = 1", "DELETE FROM items WHERE id = 2");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.hash("item:1")).containsEntry("name", "changed");
              assertThat(harness.redis.redis().exists("item:2")).isZero();
            });
    assertThat(loadStarts())
        .as("the standby resumed, no reload:%n%s", standby.decisions(15))
        .isEqualTo(1);
    CommandRun verify = CommandRun.of("verify", "--config", config.toString());
    assertThat(verify.exitCode()).as(verify.output()).isEqualTo(ExitCode.OK);
    assertThat(verify.out()).contains("public.items: 99,999 rows checked: consistent");
    System.out.printf(
        "WriterRoleIT: 2 daemons started together, 1 load of %,d rows, 1 slot, standby took over"
            + " after SIGKILL, verify clean%n",
        ROWS);
  }

  private int loadStarts() {
    return LOAD_STARTS.stream().mapToInt(this::count).sum();
  }

  private int count(String text) {
    return one.count(text) + other.count(text);
  }

  private int slots() throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        // pg_replication_slots lists the slots of every database of the (shared) server.
        ResultSet row =
            statement.executeQuery(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cachesync%'"
                    + " AND database = current_database()")) {
      row.next();
      return row.getInt(1);
    }
  }
}
