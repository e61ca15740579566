package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each expected text is what PostgreSQL 15 printed for the same double ({@code float8out}). */
class PostgresFloat8Test {

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "1.0|1",
        "0.5|0.5",
        "-2.5|-2.5",
        "1.0E14|100000000000000",
        "1.0E15|1e+15",
        "0.0001|0.0001",
        "1.0E-5|1e-05",
        "1.5E-7|1.5e-07",
        "-0.0|-0",
        "0.0|0",
        "4.9E-324|5e-324",
        "1.7976931348623157E308|1.7976931348623157e+308",
        "0.30000000000000004|0.30000000000000004",
        "123456.789|123456.789",
        // Shortest digits halfway to the next double are not PostgreSQL's choice.
        "1.0E23|9.999999999999999e+22",
        "8.41E21|8.409999999999999e+21",
        "4.3941159849037344E16|4.3941159849037344e+16",
        "NaN|NaN",
        "Infinity|Infinity",
        "-Infinity|-Infinity"
      })
  void text_printsWhatPostgresPrints(double value, String postgres) {
    assertThat(PostgresFloat8.text(value)).isEqualTo(postgres);
  }
}
