package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.model.ColumnValue;
import io.cachesync.testing.AllTypesTable;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The stream (Debezium's records) and verify (JDBC) encode every supported type alike: a table of
 * every type, loaded and streamed, is consistent for verify, and {@code --repair} rewrites nothing.
 * The daemon and verify run in a JVM whose zone is Europe/Paris, where the table's timestamps of
 * 2026-03-29 02:30 do not exist (a DST gap) and those of 2026-10-25 02:30 exist twice: they must be
 * cached as PostgreSQL holds them.
 */
class VerifyEncodingIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final TimeZone ZONE = TimeZone.getDefault();
  private static final String MAPPING =
      "tables:\n  - table: public.hashes\n    key: \"h:{id}\"\n  - table: public.jsons\n    key: \"j:{id}\"\n    format: json\n"
          + "  - table: public.odd\n    key: \"u:{id}\"\n";

  /** A value neither side can encode: a timetz whose offset has seconds. */
  private static final String UNENCODABLE = "'{13:14:15+05:30:15}'";

  private static SyncHarness harness;

  @BeforeAll
  static void start() throws Exception {
    TimeZone.setDefault(TimeZone.getTimeZone("Europe/Paris"));
    harness = new SyncHarness("verifyencoding");
    List<String> setup = new ArrayList<>(AllTypesTable.TYPES);
    setup.add("CREATE TABLE hashes (id bigint PRIMARY KEY, " + AllTypesTable.COLUMNS + ")");
    setup.add("CREATE TABLE jsons (id bigint PRIMARY KEY, " + AllTypesTable.COLUMNS + ")");
    // Rows 1 to 3 come through the initial load, 11 to 13 through the stream.
    setup.add("CREATE TABLE odd (id bigint PRIMARY KEY, label text, clocks timetz[])");
    setup.add("INSERT INTO odd VALUES (1, 'loaded', " + UNENCODABLE + ")");
    setup.add(AllTypesTable.insert("hashes", 1));
    setup.add(AllTypesTable.insert("jsons", 1));
    harness.sql(setup.toArray(String[]::new));
    harness.start(MAPPING);
    await().atMost(WAIT).until(() -> harness.redis.keys("*:3").size() == 2);
    harness.sql(
        "INSERT INTO odd VALUES (2, 'streamed', NULL)",
        "UPDATE odd SET clocks = " + UNENCODABLE + " WHERE id = 2",
        AllTypesTable.insert("hashes", 11),
        AllTypesTable.insert("jsons", 11));
    await().atMost(WAIT).until(() -> harness.redis.keys("*:13").size() == 2);
  }

  @AfterAll
  static void stop() {
    try {
      harness.close();
    } finally {
      TimeZone.setDefault(ZONE);
    }
  }

  private static CommandRun verify(String... options) {
    List<String> arguments =
        new ArrayList<>(List.of("verify", "--config", harness.config(MAPPING).toString()));
    arguments.addAll(List.of(options));
    return CommandRun.of(arguments.toArray(String[]::new));
  }

  private static Map<String, String> cached() {
    Map<String, String> values = new TreeMap<>();
    for (String key : harness.redis.keys("h:*")) {
      values.put(key, new TreeMap<>(harness.redis.hash(key)).toString());
    }
    for (String key : harness.redis.keys("j:*")) {
      values.put(key, harness.redis.redis().get(key));
    }
    return values;
  }

  @Test
  void verify_everyTypeStreamedAndLoaded_findsNoDrift() {
    CommandRun run = verify();

    assertThat(run.out())
        .as(run.output() + "\ncached: " + cached())
        .isEqualTo(
            "public.hashes: 6 rows checked: consistent\npublic.jsons: 6 rows checked: consistent\n"
                + "public.odd: 2 rows checked: consistent\nconsistent\n");
    assertThat(run.exitCode()).isEqualTo(ExitCode.OK);
  }

  @Test
  void verifyRepair_everyTypeStreamedAndLoaded_rewritesNothing() {
    Map<String, String> before = cached();

    CommandRun run = verify("--repair");

    assertThat(run.out()).as(run.output()).doesNotContain("repairing").endsWith("consistent\n");
    assertThat(cached()).isEqualTo(before);
  }

  @Test
  void stream_keyTypes_areCachedInTheReadmesForms() {
    for (String key : new String[] {"h:1", "h:11"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("price", "1234.56")
          .containsEntry("span", "P1Y2M3DT4H5M6.789S")
          .containsEntry("zoned_clock", "11:14:15.5Z")
          .containsEntry("local_at", "2026-11-25T19:24:35.000001")
          .containsEntry("at", "2026-11-25T18:24:35.804040Z")
          .containsEntry("pairs", "{\"a\":\"1\",\"b c\":\"d\\\"e\",\"n\":null}")
          .containsEntry("bits", "Cg==")
          .containsEntry("raw", "AP8Q")
          .containsEntry("address", "192.168.0.1/24")
          .containsEntry("ints", "[1,10)")
          .containsEntry("name", "short")
          .containsEntry("stamps", "[\"2026-11-25T19:24:35.000001\",null,\"infinity\"]")
          .containsEntry("zoned_stamps", "[\"2026-11-25T18:24:35.804040Z\"]")
          .containsEntry("clocks", "[\"13:14:15.500000\",null]")
          .containsEntry("zoned_clocks", "[\"07:44:15.000001Z\"]")
          .containsEntry("docs", "[{\"a\": [1, 2.50]},null]")
          .containsEntry("spans", "[\"P0Y0M1DT0H0M1S\",null]")
          .containsEntry("reals", "[0.1,\"NaN\",\"-Infinity\"]")
          .containsEntry("decimals", "[\"1.50\",\"NaN\",\"-0.001\"]")
          .containsEntry("words", "[\"a b\",null,\"q\\\"uote\",\"back\\\\slash\",\"\"]")
          // PostgreSQL's text, though Debezium gives these as bytes, structs or Java's numbers
          // (the zone-dependent ones are SessionTimeZoneIT's).
          .containsEntry("ints_set", "{[1,3),[5,7)}")
          .containsEntry("spot", "(1,2.5)")
          .containsEntry("spots", "[\"(1,2.5)\",\"(1e+20,-0.1)\"]")
          .containsEntry("area", "(1,1),(0,0)")
          .containsEntry("round", "<(0,0),1e+20>")
          .containsEntry("query", "'fat' & 'rat'")
          .containsEntry("position", "16/B374D848")
          .containsEntry("vector", "1 2")
          .containsEntry("blob", "AP8=")
          .containsEntry("tx", "42")
          .containsEntry("relation", "pg_class");
    }
    for (String key : new String[] {"h:2", "h:12"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("free", "NaN")
          .containsEntry("real_number", "NaN")
          .containsEntry("double_number", "-Infinity")
          .containsEntry("price", "-92233720368547758.08")
          .containsEntry("span", "P0Y0M-1DT0H0M-0.000001S")
          .containsEntry("local_at", "-infinity")
          .containsEntry("at", "infinity");
    }
  }

  @Test
  void stream_datesBeforeTheGregorianCalendarAndAfter9999_areProlepticIsoDates() {
    for (String key : new String[] {"h:1", "h:11"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("ancient_at", "-0043-03-15T12:00:00.000000Z")
          .containsEntry("ancient_local", "-0043-03-15T12:00:00.000000")
          .containsEntry("ancient_day", "-0043-03-15")
          .containsEntry(
              "ancient_stamps",
              "[\"-0043-03-15T12:00:00.000000Z\",\"1500-06-01T08:00:00.500000Z\",null]")
          .containsEntry(
              "ancient_locals", "[\"-0043-03-15T12:00:00.000000\",\"1500-06-01T10:00:00.500000\"]")
          .containsEntry("ancient_days", "[\"-0043-03-15\",\"1500-06-01\"]")
          .containsEntry("far_at", "+12345-06-07T08:09:10.000000Z")
          .containsEntry("far_day", "+12345-06-07");
    }
    for (String key : new String[] {"h:2", "h:12"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("ancient_at", "1582-10-10T12:00:00.000001Z")
          .containsEntry("ancient_local", "1582-10-10T12:00:00.000001")
          .containsEntry("ancient_day", "1582-10-10")
          .containsEntry(
              "ancient_stamps",
              "[\"1500-06-01T10:00:00.000000Z\",\"+12345-06-07T08:09:10.000000Z\"]")
          .containsEntry("ancient_locals", "[\"+12345-06-07T08:09:10.000000\"]")
          .containsEntry("ancient_days", "[\"1582-10-04\",\"+12345-06-07\"]")
          .containsEntry("far_at", "0000-12-31T23:59:59.999999Z")
          .containsEntry("far_day", "0000-01-01");
    }
  }

  @Test
  void stream_multiDimensionalAndBoundedArrays_areNestedJsonArrays() {
    for (String key : new String[] {"h:1", "h:11"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("int_grid", "[[1,2],[3,null]]")
          .containsEntry("text_grid", "[[\"a\",\"q\\\"uote\"],[\"NULL\",null]]")
          .containsEntry("day_grid", "[[\"2026-11-25\",null],[\"2026-03-29\",\"2026-01-01\"]]")
          .containsEntry("byte_grid", "[[\"AP8=\",null],[\"\",\"EA==\"]]")
          .containsEntry("decimal_grid", "[[\"1.50\",\"NaN\"],[null,\"-0.001\"]]")
          .containsEntry(
              "stamp_grid",
              "[[\"2026-03-29T02:30:00.000000\",null],"
                  + "[\"2026-11-25T19:24:35.000001\",\"infinity\"]]")
          .containsEntry("uuid_grid", "[[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"],[null]]")
          .containsEntry("doc_grid", "[[{\"a\": 1}],[null]]")
          .containsEntry("bounded_decimals", "[\"1.5\",\"2\"]")
          .containsEntry("bounded_ints", "[1,null,3]")
          .containsEntry("bounded_grid", "[[\"a\",\"b\"],[\"c\",\"d e\"]]")
          .containsEntry("int_list", "[4,5]");
    }
  }

  @Test
  void stream_valueNoEncoderReads_evictsTheKeyInsteadOfCachingNull() {
    // The stream applied the odd rows before the rows 11 to 13 that start() waited for.
    assertThat(harness.redis.keys("u:*")).as("u:1 loaded, u:2 updated to the value").isEmpty();
  }

  @Test
  void verifyRepair_keyOfARowThatCannotBeCached_isReportedStaleAndRemoved() {
    harness.redis.redis().hset("u:1", Map.of("__v", "0".repeat(32), "label", "loaded"));
    try {
      // Only the odd table: a repair of every table would mend any drift between the stream's and
      // JDBC's encodings before the tests above look for it, whichever order they run in.
      CommandRun run = verify("--table", "public.odd");

      assertThat(run.out())
          .as(run.output())
          .contains("u:1: stale (present, though the row is not cached: key u:1: column clocks");
      assertThat(run.exitCode()).isEqualTo(ExitCode.DRIFT);

      CommandRun repair = verify("--table", "public.odd", "--repair");

      assertThat(repair.out()).as(repair.output()).contains("repairing").endsWith("consistent\n");
      assertThat(harness.redis.redis().exists("u:1")).isZero();
    } finally {
      harness.redis.redis().del("u:1");
    }
  }

  @Test
  void stream_domainsOverBitStrings_areCachedAsTheirBaseType() {
    for (String key : new String[] {"h:1", "h:11"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("flag_bits", "Fg==")
          .containsEntry("nibble", "Cg==");
    }
  }

  @Test
  void stream_timeOfTwentyFourHours_isPostgresText() {
    for (String key : new String[] {"h:1", "h:11"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("day_end", "24:00:00.000000")
          .containsEntry("day_ends", "[\"24:00:00.000000\",null]");
    }
  }

  @Test
  void stream_timestampsInTheJvmZonesDstGapOrOverlap_arePostgresLocalTime() {
    for (String key : new String[] {"h:1", "h:11"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("gap_at", "2026-03-29T02:30:00.000000")
          .containsEntry("gap_stamps", "[\"2026-03-29T02:30:00.000000\",null]");
    }
    for (String key : new String[] {"h:2", "h:12"}) {
      assertThat(harness.redis.hash(key))
          .as(key)
          .containsEntry("gap_at", "2026-10-25T02:30:00.000000")
          .containsEntry("bounded_decimals", "[\"0\"]");
    }
  }

  /**
   * Once a statement has run prepared (PgJDBC's prepareThreshold, 5 runs), PgJDBC reads point and
   * box in binary: the JDBC readers must still write PostgreSQL's text, as the stream does (the
   * orphan sweep's rechecks run one statement per batch on one connection).
   */
  @Test
  void jdbcRowEncoder_statementRunPrepared_writesGeometricValuesAsPostgresPrintsThem()
      throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        PreparedStatement select =
            connection.prepareStatement("SELECT spot, area, round FROM hashes WHERE id = ?")) {
      for (int run = 1; run <= 8; run++) {
        select.setLong(1, 1);
        try (ResultSet rows = select.executeQuery()) {
          assertThat(rows.next()).isTrue();
          assertThat(JdbcRowEncoder.columns(rows).encode(rows).columns())
              .as("run " + run)
              .containsEntry("spot", ColumnValue.text("(1,2.5)"))
              .containsEntry("area", ColumnValue.text("(1,1),(0,0)"))
              .containsEntry("round", ColumnValue.text("<(0,0),1e+20>"));
        }
      }
    }
  }
}
