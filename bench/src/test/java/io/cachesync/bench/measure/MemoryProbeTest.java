package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryProbeTest {

  @Test
  void heapUsedBytes_jstatGcLine_sumsSurvivorEdenAndOld() {
    List<String> header =
        List.of(
            "S0C", "S1C", "S0U", "S1U", "EC", "EU", "OC", "OU", "MC", "MU", "CCSC", "CCSU", "YGC",
            "YGCT", "FGC", "FGCT", "CGC", "CGCT", "GCT");
    List<String> values =
        List.of(
            "0.0",
            "2048.0",
            "0.0",
            "1024.0",
            "30720.0",
            "4096.0",
            "229376.0",
            "10240.0",
            "60000.0",
            "59000.0",
            "7000.0",
            "6500.0",
            "12",
            "0.100",
            "0",
            "0.000",
            "4",
            "0.010",
            "0.110");

    assertThat(MemoryProbe.heapUsedBytes(header, values)).contains((1024L + 4096 + 10240) * 1024);
  }

  @Test
  void heapUsedBytes_lineOfAnotherShape_isEmpty() {
    assertThat(MemoryProbe.heapUsedBytes(List.of("S0U", "S1U", "EU", "OU"), List.of("1", "2")))
        .isEmpty();
  }

  @Test
  void vmHwmBytes_procStatus_readsTheHighWaterMark(@TempDir Path directory) throws Exception {
    Path status = directory.resolve("status");
    Files.writeString(
        status, "Name:\tjava\nVmPeak:\t 3000000 kB\nVmHWM:\t  287104 kB\nVmRSS:\t 1 kB\n");

    assertThat(MemoryProbe.vmHwmBytes(status)).contains(287104L * 1024);
  }

  @Test
  void vmHwmBytes_processGone_isEmpty(@TempDir Path directory) {
    assertThat(MemoryProbe.vmHwmBytes(directory.resolve("missing"))).isEmpty();
  }
}
