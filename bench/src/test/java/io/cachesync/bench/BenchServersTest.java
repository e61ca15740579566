package io.cachesync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BenchServersTest {

  @Test
  void redisPid_infoServer_readsTheProcessId() {
    String info =
        "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nprocess_id:48213\r\n"
            + "process_supervised:no\r\nrun_id:0d1f\r\n";

    assertThat(BenchServers.redisPid(info)).hasValue(48213);
  }

  @Test
  void redisPid_noProcessId_isEmpty() {
    assertThat(BenchServers.redisPid("# Server\r\nredis_version:7.0.15\r\n")).isEmpty();
  }
}
