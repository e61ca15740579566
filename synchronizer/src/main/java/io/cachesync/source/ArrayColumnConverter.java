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

/**
 * Debezium custom converter for the array columns whose unchanged TOASTed value Debezium 3.6 would
 * turn into NULL (every array type but text, varchar, char, json, jsonb, bytea, int4, int8, date
 * and uuid arrays, and every domain over an array): a NULL that, under REPLICA IDENTITY DEFAULT,
 * could not be told from a column set to NULL. This converter gets the value before Debezium's own
 * conversion: it writes an unchanged value as {@link ToastPlaceholder#TEXT} and a real one as its
 * JSON array ({@link ValueEncoder#array}, the same encoder verify uses), in a string field named
 * {@link #SCHEMA_NAME} that {@link RecordDecoder} takes as JSON.
 */
public final class ArrayColumnConverter
    implements CustomConverter<SchemaBuilder, RelationalColumn> {
  /** The name of the string schema of the columns this converter writes. */
  static final String SCHEMA_NAME = "io.cachesync.JsonArray";

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
    if (column.jdbcType() != Types.ARRAY
        || MARKED_BY_DEBEZIUM.contains(column.typeName().toLowerCase(Locale.ROOT))) {
      return;
    }
    registration.register(
        SchemaBuilder.string().optional().name(SCHEMA_NAME), ArrayColumnConverter::convert);
  }

  private static Object convert(Object value) {
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
}
