package io.cachesync.job;

import io.cachesync.model.ColumnNames;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.Row;
import io.cachesync.source.ValueEncoder;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.OffsetTime;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import org.postgresql.util.PGInterval;

/**
 * A row read over JDBC in the value encoding of the README: each column is read as the Java value
 * of its PostgreSQL type, or as PostgreSQL's text of it where a Java value would depend on the
 * JVM's time zone, and written by that type's method of {@link ValueEncoder}, the encoder the
 * stream uses, so that verify compares like with like. A domain is encoded as its base type, as
 * Debezium does. A value that cannot be encoded is {@link ColumnValue.Unencodable}, as on the
 * stream.
 */
public final class JdbcRowEncoder {
  /** The base type of each type name seen, per connection (a domain's is the type it is over). */
  private static final Map<Connection, Map<String, String>> BASE_TYPES =
      Collections.synchronizedMap(new WeakHashMap<>());

  private static final String BASE_TYPE_SQL =
      """
      WITH RECURSIVE chain(oid, base, kind, name, depth) AS (
        SELECT oid, typbasetype, typtype, typname, 0 FROM pg_catalog.pg_type
        WHERE oid = pg_catalog.to_regtype(?)
        UNION ALL
        SELECT t.oid, t.typbasetype, t.typtype, t.typname, c.depth + 1
        FROM pg_catalog.pg_type t JOIN chain c ON t.oid = c.base WHERE c.kind = 'd')
      SELECT name FROM chain ORDER BY depth DESC LIMIT 1""";

  private JdbcRowEncoder() {}

  static Row encode(ResultSet rows) throws SQLException {
    return columns(rows).encode(rows);
  }

  /** The names and base types of a result's columns, looked up once for all its rows. */
  public static Columns columns(ResultSet rows) throws SQLException {
    ResultSetMetaData meta = rows.getMetaData();
    String[] names = new String[meta.getColumnCount()];
    String[] types = new String[names.length];
    for (int i = 0; i < names.length; i++) {
      names[i] = meta.getColumnName(i + 1);
      types[i] = baseType(rows.getStatement().getConnection(), meta.getColumnTypeName(i + 1));
    }
    return new Columns(names, types, ColumnNames.of(Arrays.asList(names)));
  }

  /** Encodes the rows of one result, whose columns it was made from. */
  public static final class Columns {
    private final String[] names;
    private final String[] types;

    /** The names shared by every row; empty when a name repeats (a query, not a table). */
    private final Optional<ColumnNames> shared;

    private Columns(String[] names, String[] types, Optional<ColumnNames> shared) {
      this.names = names;
      this.types = types;
      this.shared = shared;
    }

    /** The current row of {@code rows}. */
    public Row encode(ResultSet rows) throws SQLException {
      if (shared.isPresent()) {
        ColumnValue[] values = new ColumnValue[names.length];
        for (int i = 0; i < names.length; i++) {
          values[i] = encodable(rows, i + 1, types[i]);
        }
        return shared.get().row(values);
      }
      Map<String, ColumnValue> columns = new LinkedHashMap<>(names.length * 2);
      for (int i = 0; i < names.length; i++) {
        columns.put(names[i], encodable(rows, i + 1, types[i]));
      }
      return new Row(columns);
    }
  }

  private static String baseType(Connection connection, String type) throws SQLException {
    Map<String, String> known =
        BASE_TYPES.computeIfAbsent(connection, c -> new ConcurrentHashMap<>());
    String base = known.get(type);
    if (base == null) {
      try (PreparedStatement query = connection.prepareStatement(BASE_TYPE_SQL)) {
        query.setString(1, type);
        try (ResultSet result = query.executeQuery()) {
          base = result.next() ? result.getString(1) : type;
        }
      }
      known.put(type, base);
    }
    return base;
  }

  private static ColumnValue encodable(ResultSet rows, int i, String type) throws SQLException {
    try {
      return column(rows, i, type);
    } catch (RuntimeException e) {
      return new ColumnValue.Unencodable(type + ": " + e);
    }
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
      case "timestamptz" -> ValueEncoder.utcTimestamp(text);
      case "timestamp" -> ValueEncoder.localTimestamp(text);
      case "date" -> ValueEncoder.date(text);
      case "time" -> ValueEncoder.time(text);
      case "timetz" -> ValueEncoder.zonedTime(rows.getObject(i, OffsetTime.class));
      case "interval" -> ValueEncoder.interval((PGInterval) rows.getObject(i));
      case "json", "jsonb" -> new ColumnValue.Json(text);
      case "hstore" -> ValueEncoder.hstore((Map<?, ?>) rows.getObject(i));
      case "bytea" -> ValueEncoder.bytes(rows.getBytes(i));
      // bit(1) is a boolean for Debezium; longer bit strings and bit varying are bits.
      case "bit" ->
          text.length() == 1 ? new ColumnValue.Bool(text.equals("1")) : ValueEncoder.bits(text);
      case "varbit" -> ValueEncoder.bits(text);
      // From the driver's object: once a statement runs prepared, PgJDBC reads point and box in
      // binary, and their getString is then Java's text of the doubles, not PostgreSQL's.
      case "point", "lseg", "path", "box", "polygon", "line", "circle" ->
          ColumnValue.text(ValueEncoder.text(rows.getObject(i)));
      default -> {
        if (!type.startsWith("_")) {
          yield ColumnValue.text(text);
        }
        String elementType = type.substring(1);
        yield ValueEncoder.TEXT_ELEMENT_TYPES.contains(elementType)
            ? ValueEncoder.simpleArray(text, elementType)
            : ValueEncoder.array(rows.getArray(i));
      }
    };
  }
}
