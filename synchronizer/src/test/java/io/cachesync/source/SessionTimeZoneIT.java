package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL prints some values in the session's time zone: the bounds of {@code tstzrange} and
 * {@code tstzmultirange}, a {@code timestamptz} inside a composite value, and arrays of these.
 * PgJDBC gives every session, the replication stream's included, the zone of its JVM. The daemon
 * and {@code verify} run here as operators run them, each in a JVM of its own with a different
 * zone, and both must see the same text: the one PostgreSQL prints in UTC.
 */
class SessionTimeZoneIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.bookings\n    key: \"b:{id}\"\n"
          + "  - table: public.notes\n    key: \"n:{id}\"\n    format: json\n";
  private static final String COLUMNS =
      "(id bigint PRIMARY KEY, period tstzrange, periods tstzmultirange, stamp stamped,"
          + " history tstzrange[])";
  private static final String VALUES =
      "tstzrange('2026-03-01 05:30+05:30', '2026-04-01 05:30+05:30'),"
          + " tstzmultirange(tstzrange('2026-01-01 00:00+00', '2026-01-02 00:00+00')),"
          + " ROW('due', '2026-10-25 01:30+00')::stamped,"
          + " ARRAY[tstzrange('2026-06-01 12:00+02', NULL)]";

  private SyncHarness harness;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("sessionzone");
    harness.sql(
        "CREATE TYPE stamped AS (label text, at timestamptz)",
        "CREATE TABLE bookings " + COLUMNS,
        "CREATE TABLE notes " + COLUMNS,
        "INSERT INTO bookings VALUES (1, " + VALUES + ")",
        "INSERT INTO notes VALUES (1, " + VALUES + ")");
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    harness.close();
  }

  @Test
  void daemonAndVerify_inJvmsOfOtherZones_cacheAndCheckTheTextPostgresPrintsInUtc() {
    daemon = new DaemonProcess(harness.config(MAPPING), "-Duser.timezone=Asia/Kolkata").start();
    await().atMost(WAIT).until(() -> harness.redis.keys("*:1").size() == 2);
    harness.sql(
        "INSERT INTO bookings VALUES (2, " + VALUES + ")",
        "INSERT INTO notes VALUES (2, " + VALUES + ")");
    await().atMost(WAIT).until(() -> harness.redis.keys("*:2").size() == 2);

    // Row 1 came through the initial load, row 2 through the stream.
    for (String key : List.of("b:1", "b:2")) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("period", "[\"2026-03-01 00:00:00+00\",\"2026-04-01 00:00:00+00\")")
          .containsEntry("periods", "{[\"2026-01-01 00:00:00+00\",\"2026-01-02 00:00:00+00\")}")
          .containsEntry("stamp", "(due,\"2026-10-25 01:30:00+00\")")
          .containsEntry("history", "[\"[\\\"2026-06-01 10:00:00+00\\\",)\"]");
    }
    for (String key : List.of("n:1", "n:2")) {
      assertThat(harness.redis.redis().get(key))
          .as(key)
          .contains(
              "\"period\":\"[\\\"2026-03-01 00:00:00+00\\\",\\\"2026-04-01 00:00:00+00\\\")\"");
    }

    try (DaemonProcess verify =
        DaemonProcess.command(
            List.of("-Duser.timezone=America/New_York"),
            "verify",
            "--config",
            harness.config(MAPPING).toString())) {
      int exitCode = verify.start().awaitExit(WAIT);
      assertThat(verify.log())
          .contains("public.bookings: 2 rows checked: consistent")
          .contains("public.notes: 2 rows checked: consistent");
      assertThat(exitCode).as(verify.log()).isEqualTo(ExitCode.OK);
    }
  }
}
