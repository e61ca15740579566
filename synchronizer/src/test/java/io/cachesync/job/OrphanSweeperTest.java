package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How a key column's value is given to PostgreSQL, from its text in the key. */
class OrphanSweeperTest {

  @Test
  void postgresText_datesBeforeYearOneOrAfter9999_areInPostgresEraForm() {
    assertThat(OrphanSweeper.postgresText("date", "-0043-03-15")).isEqualTo("0044-03-15 BC");
    assertThat(OrphanSweeper.postgresText("date", "0000-12-31")).isEqualTo("0001-12-31 BC");
    assertThat(OrphanSweeper.postgresText("date", "+12345-06-07")).isEqualTo("12345-06-07");
    assertThat(OrphanSweeper.postgresText("timestamp with time zone", "-0043-03-15T12:00:00Z"))
        .isEqualTo("0044-03-15T12:00:00Z BC");
    assertThat(
            OrphanSweeper.postgresText(
                "timestamp(3) without time zone", "-12344-01-01T00:00:00.000000"))
        .isEqualTo("12345-01-01T00:00:00.000000 BC");
  }

  @Test
  void postgresText_otherValues_areLeftAsTheKeyHoldsThem() {
    assertThat(OrphanSweeper.postgresText("date", "2026-11-25")).isEqualTo("2026-11-25");
    assertThat(OrphanSweeper.postgresText("text", "-0043-03-15")).isEqualTo("-0043-03-15");
    assertThat(OrphanSweeper.postgresText("bigint", "-42")).isEqualTo("-42");
    assertThat(OrphanSweeper.postgresText("date", "-x-01")).isEqualTo("-x-01");
    assertThat(OrphanSweeper.postgresText("date", "")).isEmpty();
  }
}
