package io.cachesync.sync;

import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** An idle mapped table next to a busy unmapped one must not make PostgreSQL keep WAL for ever. */
class WalRetentionIT {
  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("wal");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  private long lsn(String sql) throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery(sql)) {
      row.next();
      return row.getLong(1);
    }
  }

  @Test
  void run_idleMappedTableAndBusyOtherTable_slotKeepsAdvancing() throws Exception {
    harness.sql(
        "CREATE TABLE mapped (id int PRIMARY KEY)",
        "CREATE TABLE busy (id serial PRIMARY KEY, payload text)");
    harness.start("tables:\n  - table: public.mapped\n    key: \"m:{id}\"\n");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> harness.daemon().state() == io.cachesync.Daemon.State.RUNNING);

    for (int i = 0; i < 50; i++) {
      harness.sql(
          "INSERT INTO busy (payload) SELECT repeat('x', 1000) FROM generate_series(1, 100)");
    }
    long afterBusyWrites = lsn("SELECT pg_current_wal_lsn() - '0/0'");

    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                lsn(
                        "SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = 'cachesync_it'")
                    >= afterBusyWrites);
    await()
        .atMost(Duration.ofSeconds(30))
        .alias("the position stored in Redis follows the heartbeats")
        .until(
            () -> {
              String version = harness.redis.redis().hget("cachesync:it:position", "version");
              return version != null
                  && io.cachesync.model.Version.parse(version).lsn() >= afterBusyWrites;
            });
  }
}
