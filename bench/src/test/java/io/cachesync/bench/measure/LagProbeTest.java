package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LagProbeTest {
  private static final long MS = 1_000;

  @Test
  void pair_commitThenNotification_recordsTheDifference() {
    LagProbe.Notifications notifications = new LagProbe.Notifications("hset");

    notifications.add("narrow:1", "hset", 13 * MS);
    LagProbe.Lags lags = notifications.pair(Map.of("narrow:1", List.of(10 * MS)));

    assertThat(lags.micros().getTotalCount()).isEqualTo(1);
    assertThat(lags.micros().getMaxValue()).isBetween(2_990L, 3_010L);
    assertThat(lags.missing()).isZero();
  }

  @Test
  void pair_keyWrittenTwice_pairsInCommitOrderAndIgnoresOtherEvents() {
    LagProbe.Notifications notifications = new LagProbe.Notifications("hset");

    notifications.add("wide:1", "del", 21 * MS);
    notifications.add("wide:1", "hset", 21 * MS);
    notifications.add("wide:1", "hset", 22 * MS);
    LagProbe.Lags lags = notifications.pair(Map.of("wide:1", List.of(10 * MS, 20 * MS)));

    assertThat(lags.micros().getTotalCount()).isEqualTo(2);
    assertThat(lags.micros().getMaxValue()).isBetween(10_990L, 11_010L);
    assertThat(lags.micros().getMinValue()).isBetween(1_990L, 2_010L);
  }

  @Test
  void pair_notificationNeverCame_countsItMissing() throws Exception {
    LagProbe.Notifications notifications = new LagProbe.Notifications("del");

    notifications.awaitCount(1, Duration.ofMillis(10));
    LagProbe.Lags lags = notifications.pair(Map.of("doomed:1", List.of(10 * MS)));

    assertThat(lags.missing()).isEqualTo(1);
    assertThat(lags.micros().getTotalCount()).isZero();
  }

  @Test
  void micros_instant_isMicrosecondsSinceTheEpoch() {
    assertThat(LagProbe.micros(Instant.ofEpochSecond(2, 3_456_789))).isEqualTo(2_003_456L);
  }
}
