package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.apache.kafka.connect.data.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RecordDecoderTest {
  private static final DateTimeFormatter MICROS_UTC =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'");

  @ParameterizedTest
  @ValueSource(
      strings = {
        "2026-11-25T22:20:04Z",
        "2026-11-25T22:20:04.1Z",
        "2026-11-25T22:20:04.123456Z",
        "2026-11-25T22:20:04.000001Z",
        "2026-11-25T22:20:04.123456789Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z"
      })
  void utcMicros_commonShapes_printAsJavaTimeWould(String text) {
    assertThat(RecordDecoder.utcMicros(text))
        .isEqualTo(
            MICROS_UTC.format(OffsetDateTime.parse(text).withOffsetSameInstant(ZoneOffset.UTC)));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "infinity",
        "-infinity",
        "+10000-01-01T00:00:00Z",
        "2026-11-25T22:20:04+01:00",
        "2026-11-25T22:20:04.Z",
        "2026-11-25 22:20:04Z",
        "2026-11-25T22:20:0xZ"
      })
  void utcMicros_otherShapes_leftToJavaTime(String text) {
    assertThat(RecordDecoder.utcMicros(text)).isNull();
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource(
      delimiter = '|',
      value = {
        "[\"24023928\",\"24024096\"]|24023928",
        "[\"0\",\"1\"]|0",
        "[\"24023928\"]|24023928",
        "[ \"24023928\" , \"24024096\"]|24023928",
        "[\"1234567890123456789\",\"1\"]|1234567890123456789",
        "[24023928,24024096]|24023928"
      })
  void lastCommitOf_sequence_isItsFirstNumber(String sequence, long expected) {
    assertThat(RecordDecoder.lastCommitOf(sequence)).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {"[null,\"24024096\"]", "[]", "x"})
  void lastCommitOf_noFirstNumber_isNull(String sequence) {
    assertThat(RecordDecoder.lastCommitOf(sequence)).isNull();
  }

  @Test
  void column_converterCouldNotEncode_isUnencodableWithTheReason() {
    Schema schema =
        org.apache.kafka.connect.data.SchemaBuilder.string()
            .optional()
            .name(UnchangedToastConverter.ARRAY)
            .build();

    assertThat(RecordDecoder.column(schema, UnchangedToastConverter.UNENCODABLE + "bad time"))
        .isEqualTo(new io.cachesync.model.ColumnValue.Unencodable("bad time"));
    assertThat(RecordDecoder.column(schema, ToastPlaceholder.TEXT))
        .isEqualTo(io.cachesync.model.ColumnValue.UNCHANGED);
  }

  @Test
  void column_bytesOfATypeDebeziumDoesNotKnow_areItsText() {
    assertThat(
            RecordDecoder.column(
                Schema.OPTIONAL_BYTES_SCHEMA,
                "{[1,3),[5,7)}".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .isEqualTo(io.cachesync.model.ColumnValue.text("{[1,3),[5,7)}"));
  }

  @Test
  void column_bytesInsideAStruct_areBase64() {
    // As Debezium gives a PostGIS geometry: WKB, which is binary, and an SRID.
    Schema geometry =
        org.apache.kafka.connect.data.SchemaBuilder.struct()
            .field("wkb", Schema.BYTES_SCHEMA)
            .field("srid", Schema.OPTIONAL_INT32_SCHEMA)
            .optional()
            .build();
    org.apache.kafka.connect.data.Struct value =
        new org.apache.kafka.connect.data.Struct(geometry)
            .put("wkb", new byte[] {1, (byte) 0xff})
            .put("srid", 4326);

    assertThat(RecordDecoder.column(geometry, value).jsonText())
        .isEqualTo("{\"wkb\":\"Af8=\",\"srid\":4326}");
  }
}
