package io.cachesync.bench.consumer;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DaemonRunTest {

  @Test
  void httpPort_logOfTwoStarts_isTheLastPort() {
    String log =
        "12:00:01 INFO HttpEndpoint - Metrics on http://127.0.0.1:41234/metrics, health on"
            + " /health/live and /health/ready\n"
            + "12:00:09 INFO HttpEndpoint - Metrics on http://127.0.0.1:40001/metrics, health on"
            + " /health/live and /health/ready\n";

    assertThat(DaemonRun.httpPort(log)).hasValue(40001);
  }

  @Test
  void httpPort_endpointOff_isEmpty() {
    assertThat(DaemonRun.httpPort("12:00:01 INFO Daemon - Streaming from slot cachesync_x\n"))
        .isEmpty();
  }
}
