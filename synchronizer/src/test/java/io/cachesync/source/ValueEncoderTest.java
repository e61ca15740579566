package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.ColumnValue;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PGInterval;

/** The forms ValueEncoder writes from JDBC values, which must equal Debezium's. */
class ValueEncoderTest {

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
}
