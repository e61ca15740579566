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
import java.util.function.Function;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.postgresql.util.PGobject;

/**
 * Debezium custom converter for every array column (domains over arrays too), for bit strings of
 * more than one bit, bytea, the geometric types and {@code int2vector}/{@code oidvector} (domains
 * over them too). Debezium's own conversion cannot be used for them: it sends an unchanged TOASTed
 * value of most array types and of bit strings as NULL, which under REPLICA IDENTITY DEFAULT cannot
 * be told from a column set to NULL; it cannot convert an array of more than one dimension; it
 * gives a point as a struct, the other geometric types with Java's text of their numbers and a
 * vector as an empty list; and with bytea converted here, every bytes value Debezium still gives is
 * the text of a type it does not know ({@link RecordDecoder}). The converter gets the value before
 * Debezium's own conversion (an unchanged TOASTed value as one of Debezium's markers, whatever the
 * type): it writes an unchanged value as {@link ToastPlaceholder#TEXT}, and a real one in its
 * cached form, written by {@link ValueEncoder} (the encoder verify uses), in a string field named
 * {@link #ARRAY}, {@link #BITS}, {@link #BYTES} or {@link #TEXT}, which {@link RecordDecoder} takes
 * as JSON or as text.
 *
 * <p>It never throws: Debezium would log the exception and send NULL, caching a real value as
 * absent. A value it cannot encode is written as {@link #UNENCODABLE} followed by the reason, which
 * {@link RecordDecoder} turns into {@code ColumnValue.Unencodable} (the key is evicted, the reason
 * logged).
 */
public final class UnchangedToastConverter
    implements CustomConverter<SchemaBuilder, RelationalColumn> {
  /** The schema name of an array column this converter writes: the JSON array. */
  static final String ARRAY = "io.cachesync.JsonArray";

  /** The schema name of a bit string column this converter writes: base64 of its bits. */
  static final String BITS = "io.cachesync.Bits";

  /**
   * The start of the text written for a value that cannot be encoded, the reason after it; the NUL
   * character keeps it apart from any JSON array or base64 text.
   */
  static final String UNENCODABLE = "__cachesync_unencodable\u0000";

  /** The schema name of a bytea column this converter writes: base64 of its bytes. */
  static final String BYTES = "io.cachesync.Bytes";

  /**
   * The schema name of a column this converter writes as PostgreSQL's text: geometric types and the
   * vector types, which Debezium would give as Java's text of their numbers, as a struct, or as an
   * empty list.
   */
  static final String TEXT = "io.cachesync.Text";

  /** PostgreSQL's OIDs of bit and bit varying; a domain's column carries its base type's OID. */
  private static final int BIT_OID = 1560;

  private static final int VARBIT_OID = 1562;

  private static final int BYTEA_OID = 17;

  /**
   * point, lseg, path, box, polygon, line, circle, int2vector, oidvector: the types Debezium knows
   * but converts into another form than PostgreSQL's text.
   */
  private static final Set<Integer> TEXT_OIDS = Set.of(600, 601, 602, 603, 604, 628, 718, 22, 30);

  @Override
  public void configure(Properties properties) {}

  @Override
  public void converterFor(
      RelationalColumn column, ConverterRegistration<SchemaBuilder> registration) {
    if (TEXT_OIDS.contains(column.nativeType())) {
      register(registration, TEXT, UnchangedToastConverter::text);
    } else if (column.nativeType() == BYTEA_OID) {
      register(registration, BYTES, UnchangedToastConverter::bytes);
    } else if (column.jdbcType() == Types.ARRAY) {
      register(registration, ARRAY, UnchangedToastConverter::array);
    } else if (isBitString(column)) {
      register(registration, BITS, UnchangedToastConverter::bits);
    }
  }

  /**
   * Registers a string field named {@code name} whose value is NULL for NULL, the placeholder for
   * Debezium's unchanged marker, and {@code cached} of any other value.
   */
  private static void register(
      ConverterRegistration<SchemaBuilder> registration,
      String name,
      Function<Object, Object> cached) {
    registration.register(
        SchemaBuilder.string().optional().name(name),
        value -> {
          if (value == null) {
            return null;
          }
          if (UnchangedToastedReplicationMessageColumn.isUnchangedToastedValue(value)) {
            return ToastPlaceholder.TEXT;
          }
          return cached.apply(value);
        });
  }

  /**
   * bit varying, and bit of more than one bit (bit(1) is Debezium's boolean), by the column's base
   * type: Debezium names a domain's column by the domain but gives it the OID of its base type.
   */
  private static boolean isBitString(RelationalColumn column) {
    String type = column.typeName().toLowerCase(Locale.ROOT);
    boolean varbit = column.nativeType() == VARBIT_OID || type.equals("varbit");
    boolean bit = column.nativeType() == BIT_OID || type.equals("bit");
    return varbit || (bit && column.length().orElse(1) > 1);
  }

  private static Object array(Object value) {
    try {
      if (value instanceof Array array) {
        return ValueEncoder.array(array).jsonText();
      }
      return UNENCODABLE
          + "an array column's value is a "
          + value.getClass().getName()
          + ", not a java.sql.Array";
    } catch (SQLException | RuntimeException e) {
      return UNENCODABLE + "cannot encode an array value: " + e;
    }
  }

  /** bytea, domains over it: base64, as {@link ValueEncoder#bytes}. */
  private static Object bytes(Object value) {
    if (value instanceof byte[] bytes) {
      return ValueEncoder.bytes(bytes).fieldText().orElseThrow();
    }
    return UNENCODABLE
        + "a bytea column's value is a "
        + value.getClass().getName()
        + ", not a byte[]";
  }

  /** A geometric or vector value as PostgreSQL prints it, as {@link ValueEncoder#text} does. */
  private static Object text(Object value) {
    try {
      return ValueEncoder.text(value);
    } catch (RuntimeException e) {
      return UNENCODABLE + "cannot encode a value of a geometric or vector type: " + e;
    }
  }

  private static Object bits(Object value) {
    try {
      String text = value instanceof PGobject object ? object.getValue() : value.toString();
      return ValueEncoder.bits(text).fieldText().orElseThrow();
    } catch (RuntimeException e) {
      return UNENCODABLE + "cannot encode a bit string value: " + e;
    }
  }
}
