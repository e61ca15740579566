package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class InterpolatorTest {
  private final Interpolator interpolator = new Interpolator(Map.of("HOST", "db", "EMPTY", ""));

  @Test
  void interpolate_setVariable_isReplaced() {
    assertThat(interpolator.interpolate("postgres://${HOST}:5432")).isEqualTo("postgres://db:5432");
  }

  @Test
  void interpolate_setVariableWithDefault_ignoresTheDefault() {
    assertThat(interpolator.interpolate("${HOST:-other}")).isEqualTo("db");
  }

  @Test
  void interpolate_setButEmptyVariable_isEmptyNotTheDefault() {
    assertThat(interpolator.interpolate("[${EMPTY:-fallback}]")).isEqualTo("[]");
  }

  @Test
  void interpolate_unsetVariableWithDefault_usesTheDefault() {
    assertThat(interpolator.interpolate("${PORT:-6379}")).isEqualTo("6379");
    assertThat(interpolator.interpolate("${PORT:-}")).isEmpty();
  }

  @Test
  void interpolate_escapedReference_isLiteral() {
    assertThat(interpolator.interpolate("$${HOST} costs $5")).isEqualTo("${HOST} costs $5");
  }

  @Test
  void interpolate_unsetVariableWithoutDefault_namesTheVariable() {
    assertThatThrownBy(() -> interpolator.interpolate("${PGPASSWORD}"))
        .hasMessage(
            "environment variable PGPASSWORD is not set (export it, or give a default: ${PGPASSWORD:-value})");
  }

  @Test
  void interpolate_invalidName_saysHowToWriteOne() {
    assertThatThrownBy(() -> interpolator.interpolate("${my var}"))
        .hasMessage(
            "'${my var}' does not name an environment variable (write ${NAME} or ${NAME:-default})");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"Zq${Kp9@Vw", "Zq${Kp9}Vw", "Zq${Kp 9}Vw", "${Kp9}Vw"})
  void interpolate_secretValueThatCannotBeResolved_quotesNoPartOfIt(String secret) {
    assertThatThrownBy(() -> interpolator.interpolate(secret, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("Zq")
        .hasMessageNotContaining("Kp")
        .hasMessageNotContaining("Vw")
        .hasMessageContaining("secret, not shown");
  }

  @Test
  void interpolate_secretValueThatIsOneReference_namesTheVariable() {
    assertThatThrownBy(() -> interpolator.interpolate("${PGPASSWORD}", true))
        .hasMessageContaining("environment variable PGPASSWORD is not set");
  }
}
