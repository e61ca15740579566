package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.ColumnValue;
import java.time.LocalDateTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.postgresql.geometric.PGbox;
import org.postgresql.geometric.PGcircle;
import org.postgresql.geometric.PGline;
import org.postgresql.geometric.PGlseg;
import org.postgresql.geometric.PGpath;
import org.postgresql.geometric.PGpoint;
import org.postgresql.geometric.PGpolygon;
import org.postgresql.util.PGInterval;

/** The forms ValueEncoder writes from JDBC values, which must equal Debezium's. */
class ValueEncoderTest {

  @Test
  void timestamptzText_inUtc_isWrittenAsTheParsedValueWouldBe() {
    java.util.Random random = new java.util.Random(42);
    java.time.format.DateTimeFormatter postgres =
        java.time.format.DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss");
    for (int i = 0; i < 20_000; i++) {
      // Years 1 to 9999, any microsecond; PostgreSQL prints the fraction without trailing zeros.
      long seconds = -62_135_596_800L + (long) (random.nextDouble() * 315_537_897_599L);
      int micros = random.nextInt(4) == 0 ? 0 : random.nextInt(1_000_000);
      if (random.nextInt(4) == 0) {
        micros = micros / 1000 * 1000;
      }
      java.time.Instant instant = java.time.Instant.ofEpochSecond(seconds, micros * 1000L);
      String fraction =
          micros == 0 ? "" : ("." + String.format("%06d", micros)).replaceAll("0+$", "");
      String text = postgres.format(instant.atOffset(java.time.ZoneOffset.UTC)) + fraction + "+00";
      assertThat(ValueEncoder.utcTimestampText(text))
          .as(text)
          .isEqualTo(ValueEncoder.utcTimestamp(instant));
    }
  }

  @Test
  void timestamptzText_inOtherForms_isLeftToTheParser() {
    for (String text :
        new String[] {
          "2026-12-06 05:57:12+01",
          "2026-12-06 05:57:12.5+05:30",
          "2026-12-06 05:57:12-00",
          "0044-03-15 12:00:00+00 BC",
          "10000-01-01 00:00:00+00",
          "infinity",
          "-infinity",
          "2026-12-06 05:57:12.+00",
          "2026-12-06 05:57:1x+00",
          "2026-12-06T05:57:12+00x"
        }) {
      assertThat(ValueEncoder.utcTimestampText(text)).as(text).isNull();
    }
    assertThat(ValueEncoder.utcTimestampText("0999-01-02 03:04:05.000007+00"))
        .isEqualTo(ColumnValue.text("0999-01-02T03:04:05.000007Z"));
  }

  @Test
  void timestamptzText_anyOffsetEraAndYear_isTheProlepticInstantInUtc() {
    Map<String, String> cached = new LinkedHashMap<>();
    cached.put("2026-12-06 05:57:12.5+05:30", "2026-12-06T00:27:12.500000Z");
    cached.put("2026-12-06 05:57:12-01", "2026-12-06T06:57:12.000000Z");
    cached.put("0044-03-15 12:00:00+00 BC", "-0043-03-15T12:00:00.000000Z");
    cached.put("0001-12-31 23:30:00-01 BC", "0001-01-01T00:30:00.000000Z");
    // Before 1582-10-15, where PgJDBC's Timestamp counts in the Julian calendar, and an offset with
    // seconds (Paris's local mean time, as a session in Europe/Paris prints 1500).
    cached.put("1500-06-01 00:09:21+00:09:21", "1500-06-01T00:00:00.000000Z");
    cached.put("1582-10-10 12:00:00.000001+00", "1582-10-10T12:00:00.000001Z");
    cached.put("12345-06-07 08:09:10+00", "+12345-06-07T08:09:10.000000Z");
    cached.put("infinity", "infinity");
    cached.put("-infinity", "-infinity");
    for (Map.Entry<String, String> entry : cached.entrySet()) {
      assertThat(ValueEncoder.utcTimestamp(entry.getKey()))
          .as(entry.getKey())
          .isEqualTo(ColumnValue.text(entry.getValue()));
    }
  }

  @Test
  void interval_everyPart_isWrittenAsDebeziumsIsoText() throws Exception {
    assertThat(ValueEncoder.interval(new PGInterval("1 year 2 mons 3 days 04:05:06.789")))
        .isEqualTo(ColumnValue.text("P1Y2M3DT4H5M6.789S"));
    assertThat(ValueEncoder.interval(new PGInterval("-1 days -00:00:00.000001")))
        .isEqualTo(ColumnValue.text("P0Y0M-1DT0H0M-0.000001S"));
    assertThat(ValueEncoder.interval(new PGInterval("00:00:00")))
        .isEqualTo(ColumnValue.text("P0Y0M0DT0H0M0S"));
  }

  @Test
  void money_postgresText_isTheBareAmount() {
    assertThat(ValueEncoder.money("$1,234.56")).isEqualTo(ColumnValue.text("1234.56"));
    assertThat(ValueEncoder.money("-$92,233,720,368,547,758.08"))
        .isEqualTo(ColumnValue.text("-92233720368547758.08"));
  }

  @Test
  void bits_bitText_isBase64OfTheBitsLastBitFirst() {
    assertThat(ValueEncoder.bits("1010")).isEqualTo(ColumnValue.text("Cg=="));
    assertThat(ValueEncoder.bits("101")).isEqualTo(ColumnValue.text("BQ=="));
    assertThat(ValueEncoder.bits("0000")).isEqualTo(ColumnValue.text(""));
  }

  @Test
  void numeric_debeziumsSpecialValues_areWrittenAsPostgresPrintsThem() {
    assertThat(ValueEncoder.numeric("NAN")).isEqualTo(ColumnValue.text("NaN"));
    assertThat(ValueEncoder.numeric("POSITIVE_INFINITY")).isEqualTo(ColumnValue.text("Infinity"));
    assertThat(ValueEncoder.numeric("12.50")).isEqualTo(ColumnValue.text("12.50"));
  }

  @Test
  void simpleArray_nestedWithNulls_isAJsonArray() {
    assertThat(ValueEncoder.simpleArray("{{1.50,NaN},{NULL,-0.001}}", "numeric"))
        .isEqualTo(new ColumnValue.Json("[[\"1.50\",\"NaN\"],[null,\"-0.001\"]]"));
    assertThat(ValueEncoder.simpleArray("{13:14:15.000001+05:30,NULL}", "timetz"))
        .isEqualTo(new ColumnValue.Json("[\"07:44:15.000001Z\",null]"));
    assertThat(ValueEncoder.simpleArray("{}", "time")).isEqualTo(new ColumnValue.Json("[]"));
  }

  @Test
  void hstore_map_isAJsonObject() {
    Map<String, String> pairs = new LinkedHashMap<>();
    pairs.put("a", "1");
    pairs.put("n", null);
    assertThat(ValueEncoder.hstore(pairs))
        .isEqualTo(new ColumnValue.Json("{\"a\":\"1\",\"n\":null}"));
  }

  @Test
  void localTimestampMicros_infinity_isWrittenAsPostgresPrintsIt() {
    assertThat(ValueEncoder.localTimestampMicros(ValueEncoder.INFINITY))
        .isEqualTo(ColumnValue.text("infinity"));
    assertThat(ValueEncoder.localTimestampMicros(ValueEncoder.MINUS_INFINITY))
        .isEqualTo(ColumnValue.text("-infinity"));
    assertThat(ValueEncoder.localTimestampMicros(1_000_001L))
        .isEqualTo(ColumnValue.text("1970-01-01T00:00:01.000001"));
  }

  @Test
  void simpleArray_explicitLowerBounds_areLeftOut() {
    assertThat(ValueEncoder.simpleArray("[0:1]={1.5,2}", "numeric"))
        .isEqualTo(new ColumnValue.Json("[\"1.5\",\"2\"]"));
    assertThat(ValueEncoder.simpleArray("[0:1][1:2]={{1,2},{NULL,4}}", "numeric"))
        .isEqualTo(new ColumnValue.Json("[[\"1\",\"2\"],[null,\"4\"]]"));
  }

  @Test
  void simpleArray_timeOfTwentyFourHours_isPostgresText() {
    assertThat(ValueEncoder.simpleArray("{24:00:00,NULL,13:14:15.5}", "time"))
        .isEqualTo(new ColumnValue.Json("[\"24:00:00.000000\",null,\"13:14:15.500000\"]"));
  }

  @Test
  void time_twentyFourHours_isTheSameTextFromDebeziumAndFromPostgres() {
    assertThat(ValueEncoder.timeMicros(86_400_000_000L))
        .isEqualTo(ValueEncoder.time("24:00:00"))
        .isEqualTo(ColumnValue.text("24:00:00.000000"));
  }

  @Test
  void localTimestamp_dstGapOfTheJvmZone_isPostgresLocalTime() {
    TimeZone zone = TimeZone.getDefault();
    TimeZone.setDefault(TimeZone.getTimeZone("Europe/Paris"));
    try {
      assertThat(ValueEncoder.localTimestamp("2026-03-29 02:30:00"))
          .isEqualTo(ColumnValue.text("2026-03-29T02:30:00.000000"));
      assertThat(ValueEncoder.simpleArray("{\"2026-03-29 02:30:00.5\",NULL,infinity}", "timestamp"))
          .isEqualTo(new ColumnValue.Json("[\"2026-03-29T02:30:00.500000\",null,\"infinity\"]"));
      assertThat(ValueEncoder.localTimestamp("0044-03-15 12:00:00 BC"))
          .isEqualTo(ValueEncoder.localTimestamp(LocalDateTime.of(-43, 3, 15, 12, 0)));
      assertThat(ValueEncoder.simpleArray("{2026-03-29,NULL,0044-03-15 BC}", "date"))
          .isEqualTo(new ColumnValue.Json("[\"2026-03-29\",null,\"-0043-03-15\"]"));
    } finally {
      TimeZone.setDefault(zone);
    }
  }

  @Test
  void text_geometricValues_printTheirNumbersAsPostgresDoes() throws Exception {
    assertThat(ValueEncoder.text(new PGpoint(1, 2.5))).isEqualTo("(1,2.5)");
    assertThat(ValueEncoder.text(new PGbox("(1e20,-0.1),(-0.0,1E-5)")))
        .isEqualTo("(1e+20,-0.1),(-0,1e-05)");
    assertThat(ValueEncoder.text(new PGcircle(0, Double.NaN, Double.POSITIVE_INFINITY)))
        .isEqualTo("<(0,NaN),Infinity>");
    assertThat(ValueEncoder.text(new PGpath("[(0,0),(1.5,1)]"))).isEqualTo("[(0,0),(1.5,1)]");
    assertThat(ValueEncoder.text(new PGpath("((0,0),(1.5,1))"))).isEqualTo("((0,0),(1.5,1))");
    assertThat(ValueEncoder.text(new PGpolygon("((0,0),(1,1),(1,0))")))
        .isEqualTo("((0,0),(1,1),(1,0))");
    assertThat(ValueEncoder.text(new PGline(1, 2, 3.5))).isEqualTo("{1,2,3.5}");
    assertThat(ValueEncoder.text(new PGlseg(0, 0, 1e20, -0.5))).isEqualTo("[(0,0),(1e+20,-0.5)]");
    // Java 17 prints this double as 1.10592E26, which reads back as the next double up.
    assertThat(ValueEncoder.text(new PGpoint(1.1059199999999999e26, 0)))
        .isEqualTo("(1.1059199999999999e+26,0)");
  }
}
