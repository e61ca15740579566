package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.Row;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
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

  private static final Schema SOURCE =
      SchemaBuilder.struct()
          .name("io.debezium.connector.postgresql.Source")
          .field("schema", Schema.STRING_SCHEMA)
          .field("table", Schema.STRING_SCHEMA)
          .field("lsn", Schema.OPTIONAL_INT64_SCHEMA)
          .field("sequence", Schema.OPTIONAL_STRING_SCHEMA)
          .field("snapshot", Schema.OPTIONAL_STRING_SCHEMA)
          .field("ts_ms", Schema.OPTIONAL_INT64_SCHEMA)
          .build();

  /** A users row schema as Debezium builds it, anew for each RELATION message. */
  private static Schema usersRow(String... optionalTextColumns) {
    SchemaBuilder row =
        SchemaBuilder.struct()
            .name("it.public.users.Value")
            .optional()
            .field("id", Schema.INT32_SCHEMA);
    for (String column : optionalTextColumns) {
      row.field(column, Schema.OPTIONAL_STRING_SCHEMA);
    }
    return row.build();
  }

  private static Row inserted(RecordDecoder decoder, Schema rowSchema, int id, String text) {
    Schema envelope =
        SchemaBuilder.struct()
            .name("it.public.users.Envelope")
            .field("before", rowSchema)
            .field("after", rowSchema)
            .field("source", SOURCE)
            .field("op", Schema.STRING_SCHEMA)
            .build();
    Struct after = new Struct(rowSchema).put("id", id);
    rowSchema.fields().stream()
        .filter(field -> !field.name().equals("id"))
        .forEach(field -> after.put(field, text + " " + field.name()));
    Struct value =
        new Struct(envelope)
            .put("after", after)
            .put(
                "source",
                new Struct(SOURCE)
                    .put("schema", "public")
                    .put("table", "users")
                    .put("lsn", 100L + id)
                    .put("sequence", "[\"90\",\"" + (100 + id) + "\"]"))
            .put("op", "c");
    ChangeEvent event =
        decoder
            .decode(new SourceRecord(Map.of(), Map.of(), "it.public.users", envelope, value))
            .orElseThrow();
    return event.after();
  }

  @Test
  void rows_ofOneSchema_keepTheirOwnValues() {
    RecordDecoder decoder = new RecordDecoder(Optional.empty());
    Schema schema = usersRow("name");

    Row ada = inserted(decoder, schema, 1, "Ada");
    Row grace = inserted(decoder, schema, 2, "Grace");

    assertThat(ada.columns())
        .containsExactly(
            Map.entry("id", new ColumnValue.Number("1")),
            Map.entry("name", ColumnValue.text("Ada name")));
    assertThat(grace.columns())
        .containsExactly(
            Map.entry("id", new ColumnValue.Number("2")),
            Map.entry("name", ColumnValue.text("Grace name")));
  }

  @Test
  void rows_ofASchemaBuiltAgainUnderTheSameName_takeItsColumns() {
    RecordDecoder decoder = new RecordDecoder(Optional.empty());
    Schema before = usersRow("name");
    Schema widened = usersRow("name", "email");

    Row first = inserted(decoder, before, 1, "Ada");
    Row second = inserted(decoder, widened, 2, "Grace");
    Row third = inserted(decoder, usersRow("email"), 3, "Alan");
    Row fourth = inserted(decoder, before, 4, "Edsger");

    assertThat(first.columns().keySet()).containsExactly("id", "name");
    assertThat(second.columns().keySet()).containsExactly("id", "name", "email");
    assertThat(second.columns().get("email")).isEqualTo(ColumnValue.text("Grace email"));
    assertThat(third.columns().keySet()).containsExactly("id", "email");
    assertThat(third.columns().get("email")).isEqualTo(ColumnValue.text("Alan email"));
    assertThat(fourth.columns().keySet()).containsExactly("id", "name");
    assertThat(fourth.columns().get("name")).isEqualTo(ColumnValue.text("Edsger name"));
  }
}
