package io.cachesync.source;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangeEvent.Kind;
import io.cachesync.model.ColumnNames;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.JsonText;
import io.cachesync.model.Row;
import io.cachesync.model.TableId;
import io.cachesync.model.Version;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * Turns Debezium's PostgreSQL change records into {@link ChangeEvent}s: the operation, the rows in
 * the value encoding of the README, and the version (see {@link Version}). Not thread-safe: it
 * tracks the last commit position seen along the stream.
 */
final class RecordDecoder {
  /** The stand-in Debezium puts for an unchanged TOAST value; see {@link ToastPlaceholder}. */
  static final String UNAVAILABLE = ToastPlaceholder.TEXT;

  private static final String OLD_KEY_HEADER = "__debezium.oldkey";
  private static final String NEW_KEY_HEADER = "__debezium.newkey";

  private static final DateTimeFormatter MICROS_UTC =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'");

  /** The schema parameter holding a column's PostgreSQL type (column.propagate.source.type). */
  private static final String SOURCE_TYPE = "__debezium.source.column.type";

  /** The last commit position a record named, standing in for a change whose record names none. */
  private long lastCommit;

  /**
   * The tables seen, by schema and table name: a {@link TableId} checks its names with a pattern,
   * which cost more than the rest of a narrow row's decoding.
   */
  private final Map<String, Map<String, TableId>> tables = new HashMap<>();

  /**
   * The column names of the last row schema seen under each schema name (a table's row, or its
   * key's): Debezium builds a table's schema again on each of pgoutput's RELATION messages (after a
   * reconnect, or a change to the table), so the names are kept only while the schema object is the
   * same one, compared by identity (a schema's equals compares every field). One entry per table,
   * whatever the number of rebuilds.
   */
  private final Map<String, SchemaNames> columnNames = new HashMap<>();

  /** A row schema and its column names (a schema never repeats a field's name). */
  private record SchemaNames(Schema schema, ColumnNames names) {}

  /**
   * @param resumedFrom the version stored with the last applied batch, if any
   */
  RecordDecoder(Optional<Version> resumedFrom) {
    this.lastCommit = resumedFrom.map(Version::commit).orElse(0L);
  }

  /**
   * Streams on after an initial load written at {@code loaded} ({@link Version#snapshot}): a change
   * whose record names no earlier commit is versioned past the load's rows.
   */
  void resumeAfterLoad(Version loaded) {
    lastCommit = Math.max(lastCommit, loaded.commit());
  }

  private TableId table(String schema, String table) {
    return tables
        .computeIfAbsent(schema, name -> new HashMap<>())
        .computeIfAbsent(table, name -> new TableId(schema, table));
  }

  /** The change in {@code record}, or empty for records that are not row changes (heartbeats). */
  Optional<ChangeEvent> decode(SourceRecord record) {
    if (!(record.value() instanceof Struct value) || value.schema().field("op") == null) {
      return Optional.empty();
    }
    Struct source = value.getStruct("source");
    Kind kind =
        switch (value.getString("op")) {
          case "r" -> Kind.SNAPSHOT;
          case "c" -> Kind.INSERT;
          case "u" -> Kind.UPDATE;
          case "d" -> Kind.DELETE;
          case "t" -> Kind.TRUNCATE;
          default -> null;
        };
    if (kind == null) { // logical decoding messages (heartbeats), transaction markers
      return Optional.empty();
    }
    TableId table = table(source.getString("schema"), source.getString("table"));
    Row before = row(value, "before");
    // A primary-key UPDATE arrives as a DELETE of the old key (header __debezium.newkey) and a
    // CREATE of the new one (header __debezium.oldkey). They are applied as one UPDATE that moves
    // the row: the CREATE writes the new key, taking unchanged TOAST columns from the old key's
    // value, then evicts the old key. So the DELETE is left to its CREATE, which follows it.
    if (kind == Kind.DELETE && record.headers().lastWithName(NEW_KEY_HEADER) != null) {
      return Optional.empty();
    }
    Header oldKey = record.headers().lastWithName(OLD_KEY_HEADER);
    if (kind == Kind.INSERT && oldKey != null && oldKey.value() instanceof Struct key) {
      kind = Kind.UPDATE;
      before = row(key);
    }
    Long committedAt = source.schema().field("ts_ms") == null ? null : source.getInt64("ts_ms");
    return Optional.of(
        new ChangeEvent(
            table,
            kind,
            before,
            row(value, "after"),
            version(source, kind),
            committedAt == null ? 0 : committedAt));
  }

  /**
   * The stream position of a record that is not a row change but carries one (a heartbeat's logical
   * decoding message), so that the stored position keeps moving while tables are idle.
   */
  Optional<Version> position(SourceRecord record) {
    if (!(record.value() instanceof Struct value)
        || value.schema().field("source") == null
        || !"m".equals(value.schema().field("op") == null ? null : value.getString("op"))) {
      return Optional.empty();
    }
    Struct source = value.getStruct("source");
    if (source.schema().field("lsn") == null || source.getInt64("lsn") == null) {
      return Optional.empty();
    }
    return Optional.of(version(source, Kind.INSERT));
  }

  private Version version(Struct source, Kind kind) {
    long lsn = source.getInt64("lsn") == null ? 0 : source.getInt64("lsn");
    String snapshot = source.getString("snapshot");
    boolean initialLoad =
        kind == Kind.SNAPSHOT
            && snapshot != null
            && !snapshot.equals("false")
            && !snapshot.equals("incremental");
    if (initialLoad) {
      lastCommit = Math.max(lastCommit, lsn);
      return Version.snapshot(lsn);
    }
    // Taken as the record says, never raised to the highest seen: a change Debezium replays after
    // a reconnect must keep its own version, below the position Redis holds, to be recognised as a
    // replay (and a replay labelled higher could overwrite newer data).
    Long commit = lastCommitOf(source.getString("sequence"));
    if (commit != null) {
      lastCommit = commit;
    }
    // An LSN of 0 marks an initial load's version (see Version#initialLoad); a record without an
    // LSN of its own must not pass for one.
    return new Version(lastCommit, Math.max(lsn, 1));
  }

  /** The first element of Debezium's sequence {@code ["<last commit lsn>","<lsn>"]}. */
  static Long lastCommitOf(String sequence) {
    if (sequence == null || sequence.length() < 2) {
      return null;
    }
    long quoted = quotedDigits(sequence);
    if (quoted >= 0) {
      return quoted;
    }
    String first =
        sequence
            .substring(1, sequence.indexOf(',') < 0 ? sequence.length() - 1 : sequence.indexOf(','))
            .strip();
    if (first.equals("null") || first.isEmpty()) {
      return null;
    }
    return Long.parseLong(first.replace("\"", ""));
  }

  /**
   * The number of Debezium's usual sequence, {@code ["123","456"]}: its first element's digits; -1
   * for any other shape, which {@link #lastCommitOf} reads the general way. (That way's substring,
   * strip and replace cost a tenth of the decoder's time on narrow rows.)
   */
  private static long quotedDigits(String sequence) {
    if (sequence.charAt(0) != '[' || sequence.charAt(1) != '"') {
      return -1;
    }
    long number = 0;
    int i = 2;
    for (; i < sequence.length() && i < 20; i++) {
      char c = sequence.charAt(i);
      if (c < '0' || c > '9') {
        break;
      }
      number = number * 10 + (c - '0');
    }
    boolean closed = i > 2 && i + 1 < sequence.length() && sequence.charAt(i) == '"';
    char after = closed ? sequence.charAt(i + 1) : 0;
    return closed && (after == ',' || after == ']') ? number : -1;
  }

  private Row row(Struct value, String name) {
    if (value.schema().field(name) == null) {
      return Row.EMPTY;
    }
    Struct row = value.getStruct(name);
    return row == null ? Row.EMPTY : row(row);
  }

  private Row row(Struct row) {
    Schema schema = row.schema();
    List<Field> fields = schema.fields();
    SchemaNames known = columnNames.get(schema.name());
    if (known == null || known.schema() != schema) {
      // Kafka Connect's SchemaBuilder refuses a second field of the same name.
      known =
          new SchemaNames(
              schema, ColumnNames.of(fields.stream().map(Field::name).toList()).orElseThrow());
      columnNames.put(schema.name(), known);
    }
    ColumnValue[] values = new ColumnValue[fields.size()];
    for (int i = 0; i < values.length; i++) {
      Field field = fields.get(i);
      values[i] = column(field.schema(), row.get(field));
    }
    return known.names().row(values);
  }

  /** One column in the value encoding of the README. */
  static ColumnValue column(Schema schema, Object value) {
    try {
      return encode(schema, value);
    } catch (RuntimeException e) {
      return new ColumnValue.Unencodable(
          (schema.name() == null ? schema.type().toString() : schema.name()) + ": " + e);
    }
  }

  private static ColumnValue encode(Schema schema, Object value) {
    if (value == null) {
      return ColumnValue.NULL;
    }
    String name = schema.name() == null ? "" : schema.name();
    switch (name) {
      case "io.debezium.time.Date":
        return ValueEncoder.date(LocalDate.ofEpochDay(((Number) value).longValue()));
      case "io.debezium.time.Timestamp":
        return ValueEncoder.localTimestamp(
            LocalDateTime.ofInstant(Instant.ofEpochMilli((Long) value), ZoneOffset.UTC));
      case "io.debezium.time.MicroTimestamp":
        return ValueEncoder.localTimestampMicros((Long) value);
      case "io.debezium.time.NanoTimestamp":
        return ValueEncoder.localTimestamp(
            LocalDateTime.ofInstant(nanos((Long) value), ZoneOffset.UTC));
      case "io.debezium.time.ZonedTimestamp":
        return zonedTimestamp((String) value);
      case "io.debezium.time.Time":
        return ValueEncoder.timeMicros(((Number) value).longValue() * 1_000L);
      case "io.debezium.time.MicroTime":
        return ValueEncoder.timeMicros((Long) value);
      case "io.debezium.time.NanoTime":
        return ValueEncoder.timeMicros((Long) value / 1_000L);
      case "io.debezium.data.Json":
        return ToastPlaceholder.isJson((String) value)
            ? ColumnValue.UNCHANGED
            : new ColumnValue.Json((String) value);
      case UnchangedToastConverter.ARRAY:
        return converted((String) value, ColumnValue.Json::new);
      case UnchangedToastConverter.BITS,
      UnchangedToastConverter.BYTES,
      UnchangedToastConverter.TEXT:
        return converted((String) value, ColumnValue::text);
      default:
        break;
    }
    return switch (schema.type()) {
      case INT8, INT16, INT32, INT64 -> new ColumnValue.Number(value.toString());
      case FLOAT32 -> ValueEncoder.real(((Number) value).floatValue());
      case FLOAT64 -> ValueEncoder.doublePrecision(((Number) value).doubleValue());
      case BOOLEAN -> new ColumnValue.Bool((Boolean) value);
      case STRING -> {
        String text = (String) value;
        if (ToastPlaceholder.isText(text)) {
          yield ColumnValue.UNCHANGED;
        }
        // numeric's NaN and ±Infinity, as Debezium names them: looked up only for these texts.
        if ((text.equals("NAN")
                || text.equals("POSITIVE_INFINITY")
                || text.equals("NEGATIVE_INFINITY"))
            && isNumeric(schema)) {
          yield ValueEncoder.numeric(text);
        }
        yield ColumnValue.text(text);
      }
      case BYTES -> unknownType(value);
      // The placeholder string in place of a list: Debezium's form for an array type it has no
      // list form for, should one reach here (UnchangedToastConverter takes those it knows).
      case ARRAY ->
          value instanceof String text && ToastPlaceholder.isText(text)
              ? ColumnValue.UNCHANGED
              : array(schema, (List<?>) value);
      case STRUCT -> new ColumnValue.Json(struct((Struct) value));
      case MAP -> new ColumnValue.Json(map(schema, (Map<?, ?>) value));
    };
  }

  /** A value {@link UnchangedToastConverter} wrote: unchanged, unencodable, or its cached form. */
  private static ColumnValue converted(
      String text, java.util.function.Function<String, ColumnValue> form) {
    if (ToastPlaceholder.isText(text)) {
      return ColumnValue.UNCHANGED;
    }
    if (text.startsWith(UnchangedToastConverter.UNENCODABLE)) {
      return new ColumnValue.Unencodable(
          text.substring(UnchangedToastConverter.UNENCODABLE.length()));
    }
    return form.apply(text);
  }

  private static ColumnValue zonedTimestamp(String text) {
    if (ToastPlaceholder.isText(text)) {
      return ColumnValue.UNCHANGED;
    }
    String fast = utcMicros(text);
    if (fast != null) {
      return ColumnValue.text(fast);
    }
    try {
      return ColumnValue.text(
          MICROS_UTC.format(OffsetDateTime.parse(text).withOffsetSameInstant(ZoneOffset.UTC)));
    } catch (java.time.format.DateTimeParseException e) {
      return ColumnValue.text(text); // 'infinity' and other special values, as Debezium gives them
    }
  }

  /**
   * Debezium's text of a timestamptz in the common shape, {@code 2026-11-25T22:20:04.1234Z} (UTC,
   * four-digit year, 0 to 9 fraction digits), with exactly six fraction digits, as {@link
   * #MICROS_UTC} would print it; null for any other shape. Written by hand because parsing with
   * java.time took a third of the decoder's time on a table with one timestamptz column (JFR).
   */
  static String utcMicros(String text) {
    int length = text.length();
    if (length < 20 || length > 30 || text.charAt(length - 1) != 'Z') {
      return null;
    }
    for (int i = 0; i < 19; i++) {
      char c = text.charAt(i);
      boolean separator = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;
      char expected = i == 4 || i == 7 ? '-' : i == 10 ? 'T' : ':';
      if (separator ? c != expected : c < '0' || c > '9') {
        return null;
      }
    }
    StringBuilder micros = new StringBuilder(27).append(text, 0, 19).append('.');
    if (length > 20) {
      if (text.charAt(19) != '.' || length == 21) {
        return null;
      }
      for (int i = 20; i < length - 1; i++) {
        char c = text.charAt(i);
        if (c < '0' || c > '9') {
          return null;
        }
        if (i < 26) {
          micros.append(c);
        }
      }
    }
    while (micros.length() < 26) {
      micros.append('0');
    }
    return micros.append('Z').toString();
  }

  private static boolean isNumeric(Schema schema) {
    Map<String, String> parameters = schema.parameters();
    return parameters != null && "NUMERIC".equals(parameters.get(SOURCE_TYPE));
  }

  /**
   * A type Debezium does not know (include.unknown.datatypes): a multirange, a composite type,
   * {@code tsquery}, {@code pg_lsn}, {@code xid}, a reg* type, an extension's type. Debezium gives
   * the UTF-8 bytes of PostgreSQL's text; bytea, the one type it gives as bytes of its own, goes
   * through {@link UnchangedToastConverter}.
   */
  private static ColumnValue unknownType(Object value) {
    String text = new String(bytesOf(value), StandardCharsets.UTF_8);
    return ToastPlaceholder.isText(text) ? ColumnValue.UNCHANGED : ColumnValue.text(text);
  }

  private static byte[] bytesOf(Object value) {
    if (value instanceof java.nio.ByteBuffer buffer) {
      java.nio.ByteBuffer copy = buffer.duplicate();
      byte[] bytes = new byte[copy.remaining()];
      copy.get(bytes);
      return bytes;
    }
    return (byte[]) value;
  }

  private static ColumnValue array(Schema schema, List<?> values) {
    if (ToastPlaceholder.isList(values)) {
      return ColumnValue.UNCHANGED;
    }
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        json.append(',');
      }
      json.append(jsonOf(schema.valueSchema(), values.get(i)));
    }
    return new ColumnValue.Json(json.append(']').toString());
  }

  private static String struct(Struct struct) {
    StringBuilder json = new StringBuilder("{");
    boolean first = true;
    for (Field field : struct.schema().fields()) {
      if (!first) {
        json.append(',');
      }
      first = false;
      JsonText.appendQuoted(json, field.name());
      json.append(':').append(jsonOf(field.schema(), struct.get(field)));
    }
    return json.append('}').toString();
  }

  private static String map(Schema schema, Map<?, ?> map) {
    StringBuilder json = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<?, ?> entry : map.entrySet()) {
      if (!first) {
        json.append(',');
      }
      first = false;
      JsonText.appendQuoted(json, String.valueOf(entry.getKey()));
      json.append(':').append(jsonOf(schema.valueSchema(), entry.getValue()));
    }
    return json.append('}').toString();
  }

  private static String jsonOf(Schema schema, Object value) {
    // Bytes inside a struct, an array or a map (PostGIS's wkb) are binary: base64. Only a column's
    // own bytes are the text of a type Debezium does not know.
    ColumnValue column =
        schema.type() == Schema.Type.BYTES && schema.name() == null && value != null
            ? ValueEncoder.bytes(bytesOf(value))
            : column(schema, value);
    return column instanceof ColumnValue.Unchanged ? "null" : column.jsonText();
  }

  private static Instant nanos(long nanos) {
    return Instant.ofEpochSecond(
        Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
  }
}
