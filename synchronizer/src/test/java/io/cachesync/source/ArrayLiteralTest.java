package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** PostgreSQL's text of an array, read into nested lists of the elements' texts. */
class ArrayLiteralTest {

  @Test
  void parse_quotedElements_areUnescapedAndQuotedNullIsText() {
    assertThat(ArrayLiteral.parse("{a,\"b \\\"c\\\" \\\\d\",\"NULL\",NULL,\"\"}"))
        .isEqualTo(Arrays.asList("a", "b \"c\" \\d", "NULL", null, ""));
  }

  @Test
  void parse_nestedWithBounds_isNestedLists() {
    assertThat(ArrayLiteral.parse("[0:1][1:2]={{1,2},{3,NULL}}"))
        .isEqualTo(List.of(List.of("1", "2"), Arrays.asList("3", null)));
    assertThat(ArrayLiteral.parse("{}")).isEmpty();
  }

  @Test
  void parse_notAnArray_namesThePosition() {
    assertThatThrownBy(() -> ArrayLiteral.parse("{1,2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("not an array's text at character 4: unexpected end");
  }
}
