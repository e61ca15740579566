package io.cachesync.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.cachesync.bench.measure.Drain;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MetricsCostTest {

  private static MetricsCost.Round round(boolean on, long seconds, Optional<Duration> cpu) {
    return new MetricsCost.Round(
        on, new Drain(100_000, Duration.ofSeconds(seconds)), cpu, 0, 0, false);
  }

  private static final MetricsCost COST =
      new MetricsCost(
          List.of(
              round(true, 10, Optional.of(Duration.ofSeconds(15))),
              round(false, 8, Optional.of(Duration.ofSeconds(12))),
              round(false, 12, Optional.of(Duration.ofSeconds(14))),
              round(true, 10, Optional.of(Duration.ofSeconds(17)))));

  @Test
  void rate_roundsOfOneSetting_isTheirChangesOverTheirTime() {
    assertThat(COST.rate(true)).isCloseTo(10_000, within(1e-9));
    assertThat(COST.rate(false)).isCloseTo(10_000, within(1e-9));
    assertThat(COST.cost()).isCloseTo(0, within(1e-9));
    assertThat(COST.met()).isTrue();
  }

  @Test
  void pairCosts_neighbouringRounds_onAgainstOffInEitherOrder() {
    assertThat(COST.pairCosts())
        .satisfiesExactly(
            first -> assertThat(first).isCloseTo(1 - 10_000 / 12_500.0, within(1e-9)),
            second -> assertThat(second).isCloseTo(1 - 10_000 / (100_000 / 12.0), within(1e-9)));
  }

  @Test
  void medianPairCost_oddAndEvenNumberOfPairs() {
    MetricsCost three =
        new MetricsCost(
            List.of(
                round(true, 11, Optional.empty()),
                round(false, 10, Optional.empty()),
                round(false, 10, Optional.empty()),
                round(true, 15, Optional.empty()),
                round(true, 10, Optional.empty()),
                round(false, 10, Optional.empty())));

    assertThat(three.medianPairCost()).isCloseTo(1 - 10 / 11.0, within(1e-9));
    assertThat(COST.medianPairCost())
        .isCloseTo((COST.pairCosts().get(0) + COST.pairCosts().get(1)) / 2, within(1e-9));
  }

  @Test
  void rate_roundWhoseStreamWasRetried_countsInNoFigure() {
    MetricsCost.Round retried =
        new MetricsCost.Round(
            false,
            new Drain(100_000, Duration.ofSeconds(30)),
            Optional.of(Duration.ofSeconds(99)),
            0,
            0,
            true);
    MetricsCost cost =
        new MetricsCost(
            List.of(
                round(true, 10, Optional.of(Duration.ofSeconds(5))),
                retried,
                round(false, 10, Optional.of(Duration.ofSeconds(4))),
                round(true, 11, Optional.of(Duration.ofSeconds(5)))));

    assertThat(cost.rate(false)).isCloseTo(10_000, within(1e-9));
    assertThat(cost.cpuSecondsPer100k(false)).contains(4.0);
    assertThat(cost.pairCosts()).containsExactly(1 - (100_000 / 11.0) / 10_000);
  }

  @Test
  void cost_onSlower_isTheShareOfTheRateLost() {
    MetricsCost slower =
        new MetricsCost(
            List.of(round(true, 25, Optional.empty()), round(false, 24, Optional.empty())));

    assertThat(slower.cost()).isCloseTo(0.04, within(1e-9));
    assertThat(slower.met()).isFalse();
  }

  @Test
  void cpuSecondsPer100k_perSetting_allRoundsTogether() {
    assertThat(COST.cpuSecondsPer100k(true))
        .hasValueSatisfying(s -> assertThat(s).isCloseTo(16, within(1e-9)));
    assertThat(COST.cpuSecondsPer100k(false))
        .hasValueSatisfying(s -> assertThat(s).isCloseTo(13, within(1e-9)));
  }

  @Test
  void cpuSecondsPer100k_aRoundUnread_isUnknown() {
    MetricsCost cost =
        new MetricsCost(
            List.of(
                round(true, 10, Optional.empty()),
                round(false, 10, Optional.of(Duration.ofSeconds(3)))));

    assertThat(cost.cpuSecondsPer100k(true)).isEmpty();
    assertThat(cost.cpuSecondsPer100k(false)).contains(3.0);
  }
}
