package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class TtlTest {

  @ParameterizedTest
  @CsvSource({"90s,90", "15m,900", "1h,3600", "7d,604800", "1h30m,5400", "1d12h,129600"})
  void parse_durationWithUnits_isThatManySeconds(String text, long seconds) {
    assertThat(Ttl.parse(text).seconds()).isEqualTo(seconds);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "0s", "90", "-5m", "1.5h", "1 h", "1w", "h", "99999999999999999999s"})
  void parse_notAPositiveDuration_isRefused(String text) {
    assertThatThrownBy(() -> Ttl.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "'"
                + text
                + "' is not a positive duration (write a number and a unit: 90s, 15m, 1h, 7d)");
  }

  @ParameterizedTest
  @CsvSource({"90,90s", "900,15m", "5400,90m", "86400,1d"})
  void toString_printsTheLargestWholeUnit(long seconds, String text) {
    assertThat(new Ttl(Duration.ofSeconds(seconds))).hasToString(text);
  }
}
