package io.cachesync.job;

import io.cachesync.model.ColumnValue;
import io.cachesync.model.Row;
import io.cachesync.source.ValueEncoder;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.LocalTime;
import java.time.OffsetTime;
import java.util.LinkedHashMap;
import java.util.Map;
import org.postgresql.util.PGInterval;

/**
 * A row read over JDBC in the value encoding of the README: each column is read as the Java value
 * of its PostgreSQL type and written by that type's method of {@link ValueEncoder}, the encoder the
 * stream uses, so that verify compares like with like.
 */
final class JdbcRowEncoder {
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
    String text = rows.getString(i);
    if (text == null) {
      return ColumnValue.NULL;
    }
    return switch (type) {
      case "int2", "int4", "int8", "oid" -> new ColumnValue.Number(text);
      case "float4" -> ValueEncoder.real(rows.getFloat(i));
      case "float8" -> ValueEncoder.doublePrecision(rows.getDouble(i));
      case "numeric" -> ValueEncoder.numeric(text);
      case "money" -> ValueEncoder.money(text);
      case "bool" -> new ColumnValue.Bool(rows.getBoolean(i));
      case "timestamptz" -> ValueEncoder.utcTimestamp(rows.getTimestamp(i));
      case "timestamp" -> ValueEncoder.localTimestamp(rows.getObject(i, Timestamp.class));
      case "date" -> ValueEncoder.date(rows.getObject(i, java.time.LocalDate.class));
      case "time" -> ValueEncoder.time(rows.getObject(i, LocalTime.class));
      case "timetz" -> ValueEncoder.zonedTime(rows.getObject(i, OffsetTime.class));
      case "interval" -> ValueEncoder.interval((PGInterval) rows.getObject(i));
      case "json", "jsonb" -> new ColumnValue.Json(text);
      case "hstore" -> ValueEncoder.hstore((Map<?, ?>) rows.getObject(i));
      case "bytea" -> ValueEncoder.bytes(rows.getBytes(i));
      case "_numeric" -> ValueEncoder.simpleArray(text, "numeric");
      case "_time" -> ValueEncoder.simpleArray(text, "time");
      case "_timetz" -> ValueEncoder.simpleArray(text, "timetz");
      // bit(1) is a boolean for Debezium; longer bit strings and bit varying are bits.
      case "bit" ->
          text.length() == 1 ? new ColumnValue.Bool(text.equals("1")) : ValueEncoder.bits(text);
      case "varbit" -> ValueEncoder.bits(text);
      default ->
          type.startsWith("_") ? ValueEncoder.array(rows.getArray(i)) : ColumnValue.text(text);
    };
  }
}
