package io.cachesync.job;

import io.cachesync.model.ColumnValue;
import io.cachesync.model.JsonText;
import io.cachesync.model.Row;
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A row read over JDBC in the value encoding of the README: the same text the stream writes from
 * Debezium's records (source.RecordDecoder), so that verify compares like with like.
 */
final class JdbcRowEncoder {
  private static final DateTimeFormatter MICROS_UTC =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'");
  private static final DateTimeFormatter MICROS_LOCAL =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS");
  private static final DateTimeFormatter MICROS_TIME =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");

  private JdbcRowEncoder() {}

  static Row encode(ResultSet rows) throws SQLException {
    ResultSetMetaData meta = rows.getMetaData();
    Map<String, ColumnValue> columns = new LinkedHashMap<>();
    for (int i = 1; i <= meta.getColumnCount(); i++) {
      columns.put(meta.getColumnName(i), column(rows, i, meta.getColumnTypeName(i)));
    }
    return new Row(columns);
  }

  private static ColumnValue column(ResultSet rows, int i, String type) throws SQLException {
    if (rows.getObject(i) == null) {
      return ColumnValue.NULL;
    }
    return switch (type) {
      case "int2", "int4", "int8", "oid" -> new ColumnValue.Number(rows.getString(i));
      case "float4" -> floating(Float.toString(rows.getFloat(i)));
      case "float8" -> floating(Double.toString(rows.getDouble(i)));
      case "bool" -> new ColumnValue.Bool(rows.getBoolean(i));
      case "timestamptz" ->
          ColumnValue.text(
              MICROS_UTC.format(
                  rows.getObject(i, OffsetDateTime.class).withOffsetSameInstant(ZoneOffset.UTC)));
      case "timestamp" ->
          ColumnValue.text(MICROS_LOCAL.format(rows.getObject(i, LocalDateTime.class)));
      case "time" -> ColumnValue.text(MICROS_TIME.format(rows.getObject(i, LocalTime.class)));
      case "json", "jsonb" -> new ColumnValue.Json(rows.getString(i));
      case "bytea" -> ColumnValue.text(Base64.getEncoder().encodeToString(rows.getBytes(i)));
      default ->
          type.startsWith("_") ? array(rows.getArray(i)) : ColumnValue.text(rows.getString(i));
    };
  }

  private static ColumnValue floating(String text) {
    return text.equals("NaN") || text.contains("Infinity")
        ? ColumnValue.text(text)
        : new ColumnValue.Number(text);
  }

  private static ColumnValue array(Array array) throws SQLException {
    Object[] elements = (Object[]) array.getArray();
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < elements.length; i++) {
      if (i > 0) {
        json.append(',');
      }
      Object element = elements[i];
      if (element == null) {
        json.append("null");
      } else if (element instanceof Number && !(element instanceof BigDecimal)) {
        json.append(element);
      } else if (element instanceof Boolean) {
        json.append(element);
      } else if (element instanceof BigDecimal decimal) {
        JsonText.appendQuoted(json, decimal.toPlainString());
      } else {
        JsonText.appendQuoted(json, element.toString());
      }
    }
    return new ColumnValue.Json(json.append(']').toString());
  }
}
