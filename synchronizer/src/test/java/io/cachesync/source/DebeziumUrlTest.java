package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.PostgresSettings;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which connection settings Debezium's pasted-together JDBC URL would misread. */
class DebeziumUrlTest {

  private static PostgresSettings database(String name) {
    return new PostgresSettings("127.0.0.1", 5432, name, "cachesync", Optional.of("Zq@Kp"));
  }

  @Test
  void urlProblem_databaseNameWithQuestionMark_namesTheNameAndTheFix() {
    assertThat(DebeziumChangeSource.urlProblem(database("shop?sslmode=disable")))
        .hasValueSatisfying(
            problem ->
                assertThat(problem)
                    .contains("'shop?sslmode=disable' holds '?'")
                    .contains("rename the database"));
  }

  @Test
  void urlProblem_databaseNameWithPercent_isRefused() {
    assertThat(DebeziumChangeSource.urlProblem(database("shop%41"))).isPresent();
  }

  @Test
  void urlProblem_databaseNameWithSlashAmpersandEquals_isFine() {
    assertThat(DebeziumChangeSource.urlProblem(database("shop/eu&x=1"))).isEmpty();
  }
}
