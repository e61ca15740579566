package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.debezium.spi.converter.CustomConverter;
import io.debezium.spi.converter.RelationalColumn;
import java.sql.Types;
import java.util.OptionalInt;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.junit.jupiter.api.Test;

/** Which columns the converter takes, and that it never throws (Debezium would send NULL). */
class UnchangedToastConverterTest {

  /** A column as Debezium describes it: a domain's name with its base type's OID. */
  private record Column(String typeName, int jdbcType, int nativeType, OptionalInt length)
      implements RelationalColumn {
    @Override
    public String name() {
      return "c";
    }

    @Override
    public String dataCollection() {
      return "public.t";
    }

    @Override
    public String typeExpression() {
      return typeName;
    }

    @Override
    public OptionalInt scale() {
      return OptionalInt.empty();
    }

    @Override
    public boolean isOptional() {
      return true;
    }

    @Override
    public Object defaultValue() {
      return null;
    }

    @Override
    public boolean hasDefaultValue() {
      return false;
    }
  }

  /** The registration the converter makes for a column, if any. */
  private static final class Registration
      implements CustomConverter.ConverterRegistration<SchemaBuilder> {
    private SchemaBuilder schema;
    private CustomConverter.Converter converter;

    @Override
    public void register(SchemaBuilder schema, CustomConverter.Converter converter) {
      this.schema = schema;
      this.converter = converter;
    }
  }

  private static Registration registered(Column column) {
    Registration registration = new Registration();
    new UnchangedToastConverter().converterFor(column, registration);
    return registration;
  }

  @Test
  void converterFor_arrayDebeziumMarksItself_isTakenToo() {
    Registration registration =
        registered(new Column("_text", Types.ARRAY, 1009, OptionalInt.empty()));

    assertThat(registration.schema.name()).isEqualTo(UnchangedToastConverter.ARRAY);
  }

  @Test
  void converterFor_domainOverBitVarying_isTakenAsBits() {
    Registration registration =
        registered(new Column("flag_bits", Types.OTHER, 1562, OptionalInt.empty()));

    assertThat(registration.schema.name()).isEqualTo(UnchangedToastConverter.BITS);
  }

  @Test
  void convert_valueItCannotRead_isTheUnencodableMarkerNotAnException() {
    Registration registration =
        registered(new Column("_time", Types.ARRAY, 1183, OptionalInt.empty()));

    Object converted = registration.converter.convert(42);

    assertThat((String) converted)
        .startsWith(UnchangedToastConverter.UNENCODABLE)
        .contains("java.lang.Integer");
  }

  @Test
  void converterFor_domainOverBytea_isTakenAsBytesAndItsUnchangedMarkerIsThePlaceholder() {
    Registration registration =
        registered(new Column("blob", Types.BINARY, 17, OptionalInt.empty()));

    assertThat(registration.schema.name()).isEqualTo(UnchangedToastConverter.BYTES);
    assertThat(registration.converter.convert(new byte[] {0, (byte) 0xff})).isEqualTo("AP8=");
    assertThat(
            registration.converter.convert(
                io.debezium.connector.postgresql.UnchangedToastedReplicationMessageColumn
                    .UNCHANGED_TOAST_VALUE))
        .isEqualTo(ToastPlaceholder.TEXT);
  }

  @Test
  void converterFor_vectorTypes_areTextNotArrays() {
    // int2vector is an array type for PgJDBC; as an array its text "1 2" would read as empty.
    Registration registration =
        registered(new Column("int2vector", Types.ARRAY, 22, OptionalInt.empty()));

    assertThat(registration.schema.name()).isEqualTo(UnchangedToastConverter.TEXT);
    assertThat(registration.converter.convert("1 2")).isEqualTo("1 2");
  }

  @Test
  void converterFor_point_isPostgresText() {
    Registration registration =
        registered(new Column("point", Types.OTHER, 600, OptionalInt.empty()));

    assertThat(registration.schema.name()).isEqualTo(UnchangedToastConverter.TEXT);
    assertThat(registration.converter.convert(new org.postgresql.geometric.PGpoint(1, 2.5)))
        .isEqualTo("(1,2.5)");
  }
}
