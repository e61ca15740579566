package io.cachesync.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.LocalPrometheus.Sample;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The fixture that later scrapes the daemon: the server starts, scrapes what it is given every
 * second, and answers queries with the series' labels and values.
 */
class LocalPrometheusIT {
  private static final String MISSING_JOB = "nothing-listens";

  private static String missingTarget;
  private static final ClosedPort closedPort = new ClosedPort();
  private static LocalPrometheus prometheus;

  @BeforeAll
  static void start() {
    missingTarget = "127.0.0.1:" + closedPort.port();
    prometheus = TestServers.prometheus(Map.of(MISSING_JOB, List.of(missingTarget)));
  }

  @AfterAll
  static void stop() {
    if (prometheus != null) {
      prometheus.close();
    }
    closedPort.close();
  }

  @Test
  void query_upOfItsOwnJob_isOneForItsOwnAddress() {
    List<Sample> up = awaitSeries("up{job=\"" + LocalPrometheus.SELF_JOB + "\"}");

    assertThat(up)
        .containsExactly(
            new Sample(
                Map.of(
                    "__name__",
                    "up",
                    "job",
                    LocalPrometheus.SELF_JOB,
                    "instance",
                    prometheus.address()),
                1.0));
  }

  @Test
  void query_targetNobodyListensOn_upIsZero() {
    List<Sample> up = awaitSeries("up{job=\"" + MISSING_JOB + "\"}");

    assertThat(up).extracting(Sample::value).containsExactly(0.0);
    assertThat(up).extracting(s -> s.labels().get("instance")).containsExactly(missingTarget);
  }

  @Test
  void query_scalar_isOneSampleWithoutLabels() {
    assertThat(prometheus.query("scalar(vector(42))")).containsExactly(new Sample(Map.of(), 42.0));
  }

  @Test
  void query_invalidPromql_throwsWithPrometheusMessage() {
    assertThatThrownBy(() -> prometheus.query("sum(up"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("Prometheus rejected sum(up: ")
        .hasMessageContaining("parse error");
  }

  private static List<Sample> awaitSeries(String promql) {
    return await(promql)
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> prometheus.query(promql), samples -> !samples.isEmpty());
  }
}
