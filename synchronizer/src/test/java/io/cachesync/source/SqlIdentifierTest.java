package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.TableId;
import org.junit.jupiter.api.Test;

class SqlIdentifierTest {
  @Test
  void quoted_keepsCaseAndDoublesQuotes() {
    assertThat(SqlIdentifier.quoted("users")).isEqualTo("\"users\"");
    assertThat(SqlIdentifier.quoted("Order \"Lines\"")).isEqualTo("\"Order \"\"Lines\"\"\"");
    assertThat(SqlIdentifier.quoted(new TableId("Sales", "x$y"))).isEqualTo("\"Sales\".\"x$y\"");
  }

  @Test
  void quoted_outsidePrintableAscii_usesUnicodeEscapes() {
    assertThat(SqlIdentifier.quoted("café")).isEqualTo("U&\"caf\\00e9\"");
    assertThat(SqlIdentifier.quoted("a\"\\\nb")).isEqualTo("U&\"a\"\"\\\\\\000ab\"");
    assertThat(SqlIdentifier.quoted("\uD83D\uDE00")).isEqualTo("U&\"\\+01f600\"");
  }
}
