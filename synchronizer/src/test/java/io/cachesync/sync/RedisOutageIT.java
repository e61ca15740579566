package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Redis unreachable for 30 seconds mid-stream: progress stops, the slot is not confirmed past the
 * unapplied changes (invariant 3), and everything arrives once Redis is back.
 */
class RedisOutageIT {
  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("outage");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  private long confirmedFlushLsn() throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet row =
            statement.executeQuery(
                "SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = 'cachesync_"
                    + SyncHarness.NAME
                    + "'")) {
      row.next();
      return row.getLong(1);
    }
  }

  private long currentLsn() throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery("SELECT pg_current_wal_lsn() - '0/0'")) {
      row.next();
      return row.getLong(1);
    }
  }

  @Test
  void run_redisUnreachableForThirtySeconds_confirmsNothingUnappliedAndCatchesUp()
      throws Exception {
    harness.sql(
        "CREATE TABLE counters (id int PRIMARY KEY, value int)",
        "INSERT INTO counters VALUES (1, 0)");
    harness.start("tables:\n  - table: public.counters\n    key: \"counter:{id}\"\n");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "0".equals(harness.redis.redis().hget("counter:1", "value")));
    // The initial load's rows reach Redis before Debezium's engine streams: wait for a streamed
    // change, so that the outage hits the stream's batches (an outage while the engine starts is
    // waited out before any batch, RedisOffsetBackingStoreTest).
    harness.sql("UPDATE counters SET value = -1 WHERE id = 1");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> "-1".equals(harness.redis.redis().hget("counter:1", "value")));

    harness.redisServer.pause();
    long beforeWrites = currentLsn();
    for (int i = 1; i <= 100; i++) {
      harness.sql(
          "UPDATE counters SET value = " + i + " WHERE id = 1",
          "INSERT INTO counters VALUES (" + (i + 1) + ", " + i + ")");
    }
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> harness.daemon().synchronizer().counts().retries() >= 2);
    await()
        .during(Duration.ofSeconds(25))
        .atMost(Duration.ofSeconds(35))
        .until(() -> confirmedFlushLsn() <= beforeWrites);

    harness.redisServer.resume();

    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> "100".equals(harness.redis.redis().hget("counter:1", "value")));
    assertThat(harness.redis.keys("counter:*")).hasSize(101);
    await().atMost(Duration.ofSeconds(30)).until(() -> confirmedFlushLsn() > beforeWrites);
  }
}
