package io.cachesync.ops;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PromqlMetricNamesTest {

  @Test
  void in_selectorWithMatchers_isTheMetricOnly() {
    assertThat(PromqlMetricNames.in("cachesync_state{job=\"cachesync\", state=~\"a|b\"} == 1"))
        .containsExactly("cachesync_state");
  }

  @Test
  void in_functionsAggregationsAndGrouping_areNotMetrics() {
    assertThat(
            PromqlMetricNames.in(
                "histogram_quantile(0.99, sum by (le) (rate(cachesync_batch_seconds_bucket{a=\"b\"}[$__rate_interval])))"))
        .containsExactly("cachesync_batch_seconds_bucket");
  }

  @Test
  void in_binaryOperationWithMatchingClause_isBothSides() {
    assertThat(
            PromqlMetricNames.in(
                "(time() - cachesync_last_batch_timestamp_seconds) > 120\n"
                    + "and on (instance, synchronizer)\n"
                    + "cachesync_state{state=\"streaming\"} == 1 unless ignoring(x) group_left up"))
        .containsExactly("cachesync_last_batch_timestamp_seconds", "cachesync_state", "up");
  }

  @Test
  void in_numbersDurationsAndOffsets_areNotMetrics() {
    assertThat(
            PromqlMetricNames.in(
                "predict_linear(wal_bytes[1h], 4 * 3600) > 50 * 1e9 and wal_bytes offset 5m > 0x10"))
        .containsExactly("wal_bytes");
  }

  @Test
  void in_aggregationWithGroupingAfterTheArgument_isTheMetric() {
    assertThat(PromqlMetricNames.in("sum(rate(cachesync_retries_total[5m])) without (kind)"))
        .containsExactly("cachesync_retries_total");
  }

  @Test
  void in_renamedMetric_isReportedUnderItsNewName() {
    assertThat(PromqlMetricNames.in("cachesync_lag_secs > 30"))
        .containsExactly("cachesync_lag_secs");
  }
}
