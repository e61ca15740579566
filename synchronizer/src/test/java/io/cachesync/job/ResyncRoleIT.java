package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.cachesync.Daemon;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import io.lettuce.core.SetArgs;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Resync requests are taken, and put back, only by the daemon that surely holds the writer's role:
 * a daemon that lost it takes none, and a standby that finds the slot in use leaves the holder's
 * requests as they are.
 */
class ResyncRoleIT {
  private static final String MAPPING =
      "tables:\n  - table: public.counters\n    key: \"counter:{id}\"\n";
  private static final String PREFIX = "cachesync:" + SyncHarness.NAME + ":";
  private static final Duration WAIT = Duration.ofSeconds(40);

  private SyncHarness harness;
  private DaemonProcess holder;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("resyncrole");
    harness.sql(
        "CREATE TABLE counters (id int PRIMARY KEY, value int)",
        "INSERT INTO counters SELECT i, 0 FROM generate_series(1, 10) AS i");
  }

  @AfterEach
  void tearDown() {
    if (holder != null) {
      holder.close();
    }
    harness.close();
  }

  @Test
  void takeResync_afterTheRoleWasLost_leavesTheRequestQueued() throws Exception {
    Daemon daemon = harness.start(MAPPING);
    await().atMost(WAIT).until(() -> harness.redis.keys("counter:*").size() == 10);

    // As after this daemon's lease expired (a pause, a partition) and a standby took it; the
    // request is for the new holder, which put back the requests taken before it took the role.
    harness
        .redis
        .redis()
        .set(PREFIX + "writer", "12345@elsewhere/standby", SetArgs.Builder.px(60_000));
    queue("r1");

    await().atMost(WAIT).until(() -> daemon.terminated().isDone());
    assertThat(harness.redis.redis().lrange(PREFIX + "resync:queue", 0, -1))
        .as("still queued for the new holder")
        .containsExactly("r1");
    assertThat(harness.redis.redis().llen(PREFIX + "resync:taken"))
        .as("taken by a daemon without the role, nobody would queue it again")
        .isZero();
    System.out.println("ResyncRoleIT: a daemon that lost the role took no request");
  }

  @Test
  void start_slotInUseByTheHolder_leavesTheHoldersTakenRequests() throws Exception {
    holder = new DaemonProcess(harness.config(MAPPING)).start();
    await().atMost(WAIT).until(() -> harness.redis.keys("counter:*").size() == 10);
    await("the holder streaming").atMost(WAIT).until(this::slotActive);
    // The holder works on a request; then it pauses past its lease, its walsender still streams.
    harness.redis.redis().rpush(PREFIX + "resync:taken", "r1");
    holder.pause();
    await("the holder's lease expired")
        .atMost(WAIT)
        .until(() -> harness.redis.redis().exists(PREFIX + "writer") == 0);
    assertThat(slotActive()).as("the paused holder's walsender still holds the slot").isTrue();

    assertThatThrownBy(() -> harness.start(MAPPING))
        .isInstanceOf(Daemon.SlotInUseException.class)
        .hasMessageContaining("is in use by another process");

    assertThat(harness.redis.redis().lrange(PREFIX + "resync:taken", 0, -1))
        .as("still the holder's")
        .containsExactly("r1");
    assertThat(harness.redis.redis().llen(PREFIX + "resync:queue")).isZero();
    holder.resume();
    System.out.println("ResyncRoleIT: a standby left the holder's taken request alone");
  }

  private void queue(String id) {
    harness
        .redis
        .redis()
        .hset(PREFIX + "resync:" + id, Map.of("status", "queued", "tables", "public.counters"));
    harness.redis.redis().rpush(PREFIX + "resync:queue", id);
  }

  private boolean slotActive() {
    try (var connection = harness.postgres.connect(harness.database);
        var statement = connection.createStatement();
        var row =
            statement.executeQuery(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'cachesync_it'")) {
      return row.next() && row.getBoolean(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
