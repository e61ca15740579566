package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TcpProxy;
import io.cachesync.testing.WriteHistory;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A batch whose {@code EXEC} Redis ran but whose reply never reached the daemon (the connection
 * broke in between) is applied again once Redis is back: the daemon cannot tell it ran. Applying it
 * again must leave every key as the first time and show readers nothing older, even for rows the
 * batch inserted and then deleted: the retry writes them again and deletes them again inside one
 * transaction.
 */
class LostReplyIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final int ROWS = 50;

  private SyncHarness harness;
  private TcpProxy postgresProxy;
  private TcpProxy redisProxy;
  private WriteHistory history;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("lostreply");
    postgresProxy = new TcpProxy(harness.postgres.host(), harness.postgres.port());
    redisProxy = new TcpProxy(harness.redisServer.host(), harness.redisServer.port());
    history = new WriteHistory(harness.redisServer);
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    history.close();
    harness.close();
    postgresProxy.close();
    redisProxy.close();
  }

  @Test
  void lostExecReply_batchAppliedAgain_readersNeverSeeAnOlderValue() throws Exception {
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int)", "INSERT INTO items VALUES (0, 0)");
    daemon = new DaemonProcess(harness.configThrough(postgresProxy, redisProxy, MAPPING)).start();
    await("the initial load").atMost(WAIT).until(() -> harness.redis.redis().exists("item:0") == 1);

    // The batch waiting for its reply may be another one (a heartbeat's) instead of the test's:
    // then nothing of the test's reaches Redis, and the cycle is tried again.
    for (int attempt = 1; ; attempt++) {
      int recovered = daemon.count("Redis took the batch again");
      redisProxy.swallowReplies();
      insertUpdateAndDeleteInOneTransaction(attempt);
      String marker = Integer.toString(attempt);
      boolean ran;
      try {
        // Item 0's value, read straight from Redis, is the transaction's last change: Redis ran
        // the whole batch (one MULTI/EXEC), and the daemon never heard back.
        // Up to the offsets' flush timeout (10 s, its reply is swallowed too) and a batch in
        // flight before it.
        await("Redis running the batch")
            .atMost(Duration.ofSeconds(30))
            .until(() -> marker.equals(harness.redis.redis().hget("item:0", "value")));
        ran = true;
      } catch (ConditionTimeoutException e) {
        ran = false;
      }
      redisProxy.cut();
      redisProxy.restore();
      await("the daemon applying the batch again")
          .atMost(WAIT)
          .until(() -> daemon.count("Redis took the batch again") > recovered);
      if (ran) {
        break;
      }
      assertThat(attempt)
          .as("the test's batch never reached Redis:%n%s", daemon.tail())
          .isLessThan(7);
    }

    harness.sql("UPDATE items SET value = -1 WHERE id = 0");
    await("the daemon streaming after the retry")
        .atMost(WAIT)
        .until(() -> "-1".equals(harness.redis.redis().hget("item:0", "value")));
    history.awaitCaughtUp(WAIT);

    // The batch ran, its reply was lost, and the daemon applied it again (above); the writes of
    // the rows it had deleted, applied again, are undone within the retried transaction.
    assertThat(history.regressions()).as("writes readers could see below what they saw").isEmpty();
    assertThat(harness.redis.keys("item:*")).containsExactly("item:0");
    System.out.printf(
        "LostReplyIT: the batch ran, its reply was lost, and it was applied again: %d writes below"
            + " a key's version undone within their transaction, 0 regressions%n",
        history.undoneInTransaction());
  }

  /** Rows inserted, updated and deleted, and item 0 updated, in one transaction: one batch. */
  private void insertUpdateAndDeleteInOneTransaction(int attempt) throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement()) {
      connection.setAutoCommit(false);
      int first = attempt * 1_000;
      statement.execute(
          "INSERT INTO items SELECT i, 1 FROM generate_series("
              + first
              + ", "
              + (first + ROWS - 1)
              + ") i");
      statement.execute("UPDATE items SET value = 2 WHERE id >= " + first);
      statement.execute("DELETE FROM items WHERE id >= " + first);
      statement.execute("UPDATE items SET value = " + attempt + " WHERE id = 0");
      connection.commit();
    }
  }
}
