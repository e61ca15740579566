package io.cachesync.source;

import io.debezium.connector.postgresql.UnchangedToastedReplicationMessageColumn;
import io.debezium.spi.converter.CustomConverter;
import io.debezium.spi.converter.RelationalColumn;
import java.sql.Array;
import java.sql.SQLException;
import java.sql.Types;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.postgresql.util.PGobject;

/**
 * Debezium custom converter for the columns whose unchanged TOASTed value Debezium 3.6 would send
 * as NULL, which under REPLICA IDENTITY DEFAULT cannot be told from a column set to NULL: every
 * array type but text, varchar, char, json, jsonb, bytea, int4, int8, date and uuid arrays (those
 * Debezium marks with the placeholder, see {@link ToastPlaceholder}), every domain over an array,
 * and bit strings of more than one bit. The converter gets the value before Debezium's own
 * conversion: it writes an unchanged value as {@link ToastPlaceholder#TEXT}, and a real one in its
 * cached form, written by {@link ValueEncoder} (the encoder verify uses), in a string field named
 * {@link #ARRAY} or {@link #BITS}, which {@link RecordDecoder} takes as JSON or as text.
 */
public final class UnchangedToastConverter
    implements CustomConverter<SchemaBuilder, RelationalColumn> {
  /** The schema name of an array column this converter writes: the JSON array. */
  static final String ARRAY = "io.cachesync.JsonArray";

  /** The schema name of a bit string column this converter writes: base64 of its bits. */
  static final String BITS = "io.cachesync.Bits";

  /** Array types whose unchanged TOASTed value Debezium 3.6 gives in a form of the placeholder. */
  private static final Set<String> MARKED_BY_DEBEZIUM =
      Set.of(
          "_text",
          "_varchar",
          "_bpchar",
          "_json",
          "_jsonb",
          "_bytea",
          "_int4",
          "_int8",
          "_date",
          "_uuid");

  @Override
  public void configure(Properties properties) {}

  @Override
  public void converterFor(
      RelationalColumn column, ConverterRegistration<SchemaBuilder> registration) {
    String type = column.typeName().toLowerCase(Locale.ROOT);
    if (column.jdbcType() == Types.ARRAY && !MARKED_BY_DEBEZIUM.contains(type)) {
      registration.register(
          SchemaBuilder.string().optional().name(ARRAY), UnchangedToastConverter::array);
    } else if (type.equals("varbit") || (type.equals("bit") && column.length().orElse(1) > 1)) {
      registration.register(
          SchemaBuilder.string().optional().name(BITS), UnchangedToastConverter::bits);
    }
  }

  private static Object array(Object value) {
    if (value == null) {
      return null;
    }
    if (UnchangedToastedReplicationMessageColumn.isUnchangedToastedValue(value)) {
      return ToastPlaceholder.TEXT;
    }
    if (value instanceof Array array) {
      try {
        return ValueEncoder.array(array).jsonText();
      } catch (SQLException e) {
        throw new IllegalStateException("cannot read an array value: " + e.getMessage(), e);
      }
    }
    throw new IllegalArgumentException(
        "an array column's value is a " + value.getClass().getName() + ", not a java.sql.Array");
  }

  private static Object bits(Object value) {
    if (value == null) {
      return null;
    }
    if (UnchangedToastedReplicationMessageColumn.isUnchangedToastedValue(value)) {
      return ToastPlaceholder.TEXT;
    }
    String text = value instanceof PGobject object ? object.getValue() : value.toString();
    return ValueEncoder.bits(text).fieldText().orElseThrow();
  }
}
