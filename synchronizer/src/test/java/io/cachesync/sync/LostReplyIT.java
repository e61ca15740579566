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
        "CREATE TABLE items (id int PRIMARY KEY, value int, note text)",
        "INSERT INTO items VALUES (0, 0, 'start')");
    daemon = new DaemonProcess(harness.configThrough(postgresProxy, redisProxy, MAPPING)).start();
    await("the initial load").atMost(WAIT).until(() -> harness.redis.redis().exists("item:0") == 1);

    // Debezium hands over what it has decoded every few milliseconds, so the transaction may reach
    // the daemon in more than one batch. The proxy starts swallowing replies when the batch with
    // the transaction's last change (item 0's note) passes, so that batch is the one Redis runs
    // without the daemon hearing back. Each row is inserted, updated and deleted before the next,
    // so that batch almost always holds rows it both writes and deletes; when it holds none (it
    // began just before item 0's change), the cycle runs again.
    for (int attempt = 1; history.undoneInTransaction() == 0; attempt++) {
      assertThat(attempt)
          .as("no retried batch held a row it both wrote and deleted:%n%s", daemon.tail())
          .isLessThanOrEqualTo(5);
      int recovered = daemon.count("Redis took the batch again");
      String marker = "lost-reply:" + attempt + ":end";
      redisProxy.swallowRepliesAfter(marker);
      insertUpdateAndDeleteInOneTransaction(attempt, marker);
      await("Redis running the batch with the transaction's last change")
          .atMost(WAIT)
          .until(() -> marker.equals(harness.redis.redis().hget("item:0", "note")));
      redisProxy.cut();
      redisProxy.restore();
      await("the daemon applying the batch again")
          .atMost(WAIT)
          .until(() -> daemon.count("Redis took the batch again") > recovered);
      history.awaitCaughtUp(WAIT);
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

  /**
   * Rows each inserted, updated and deleted in turn, then item 0's note set to {@code marker}, in
   * one transaction.
   */
  private void insertUpdateAndDeleteInOneTransaction(int attempt, String marker) throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement()) {
      int first = attempt * 1_000;
      statement.execute(
          "DO $$ BEGIN FOR i IN "
              + first
              + ".."
              + (first + ROWS - 1)
              + " LOOP INSERT INTO items VALUES (i, 1, 'row'); UPDATE items SET value = 2 WHERE id"
              + " = i; DELETE FROM items WHERE id = i; END LOOP; UPDATE items SET value = "
              + attempt
              + ", note = '"
              + marker
              + "' WHERE id = 0; END $$");
    }
  }
}
