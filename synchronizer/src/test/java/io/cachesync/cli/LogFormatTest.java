package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LogFormatTest {

  @Test
  void parse_unsetOrEmpty_isText() {
    assertThat(LogFormat.parse(null)).isEqualTo(LogFormat.TEXT);
    assertThat(LogFormat.parse("")).isEqualTo(LogFormat.TEXT);
  }

  @Test
  void parse_knownValues_nameTheirFormat() {
    assertThat(LogFormat.parse("text")).isEqualTo(LogFormat.TEXT);
    assertThat(LogFormat.parse("json")).isEqualTo(LogFormat.JSON);
  }

  @Test
  void parse_unknownValue_namesTheVariableAndTheAllowedValues() {
    assertThatThrownBy(() -> LogFormat.parse("JSON"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "CACHESYNC_LOG_FORMAT is 'JSON'; use text (the default: readable lines) or json (one"
                + " JSON object per line)");
  }
}
