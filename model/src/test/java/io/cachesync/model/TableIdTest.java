package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TableIdTest {

  @Test
  void parse_schemaAndTable_splitsAtTheDot() {
    assertThat(TableId.parse("shop.order_lines")).isEqualTo(new TableId("shop", "order_lines"));
    assertThat(TableId.parse("shop.order_lines")).hasToString("shop.order_lines");
  }

  @ParameterizedTest
  @ValueSource(strings = {"users", ".users", "public.", "a.b.c"})
  void parse_notSchemaDotTable_isRefused(String text) {
    assertThatThrownBy(() -> TableId.parse(text))
        .hasMessage(
            "'"
                + text
                + "' is not a schema.table name (write it as schema.table, e.g. public.users)");
  }

  @Test
  void parse_invalidIdentifier_isRefused() {
    assertThatThrownBy(() -> TableId.parse("public.1users"))
        .hasMessageStartingWith("'public.1users' is not a schema.table name (each part is letters");
  }
}
