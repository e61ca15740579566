package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class CpuTimelineTest {
  private final CpuTimeline timeline = CpuTimeline.unsampled(ProcessCpu.ofTicksPerSecond(100));

  @Test
  void between_momentsBetweenSamples_takesTheLastSampleAtOrBeforeEach() {
    timeline.record(7, 1_000, Duration.ofMillis(100));
    timeline.record(7, 2_000, Duration.ofMillis(130));
    timeline.record(7, 3_000, Duration.ofMillis(190));
    timeline.record(7, 4_000, Duration.ofMillis(250));

    assertThat(timeline.between(7, 2_500, 3_999)).hasValue(Duration.ofMillis(60));
    assertThat(timeline.between(7, 2_000, 4_000)).hasValue(Duration.ofMillis(120));
  }

  @Test
  void between_startBeforeTheFirstSample_countsFromTheFirstSample() {
    timeline.record(7, 1_000, Duration.ofMillis(100));
    timeline.record(7, 2_000, Duration.ofMillis(130));

    assertThat(timeline.between(7, 500, 2_000)).hasValue(Duration.ofMillis(30));
  }

  @Test
  void between_endAfterTheProcessExited_keepsItsLastSample() {
    timeline.record(7, 1_000, Duration.ofMillis(100));
    timeline.record(7, 2_000, Duration.ofMillis(130));

    assertThat(timeline.between(7, 1_000, 9_000)).hasValue(Duration.ofMillis(30));
  }

  @Test
  void between_anotherProcessesSamples_areNotMixedIn() {
    timeline.record(7, 1_000, Duration.ofMillis(100));
    timeline.record(8, 1_500, Duration.ofMillis(900));
    timeline.record(7, 2_000, Duration.ofMillis(130));

    assertThat(timeline.between(7, 1_000, 2_000)).hasValue(Duration.ofMillis(30));
    assertThat(timeline.between(9, 1_000, 2_000)).isEmpty();
  }

  @Test
  void between_manySamples_findsTheRightOnes() {
    for (int i = 0; i < 5_000; i++) {
      timeline.record(7, i * 10L, Duration.ofMillis(i));
    }

    assertThat(timeline.between(7, 1_005, 30_000)).hasValue(Duration.ofMillis(3_000 - 100));
  }

  @Test
  void watch_thisProcess_readsItsCpuTimeFromWatchToUnwatch() throws Exception {
    ProcessCpu cpu = ProcessCpu.ofThisMachine();
    long pid = ProcessHandle.current().pid();
    try (CpuTimeline sampling = CpuTimeline.start(cpu)) {
      long from = System.nanoTime();
      sampling.watch(pid);
      Duration before = cpu.used(pid).orElseThrow();
      long deadline = from + 30_000_000_000L;
      long spent = 0;
      // Busy until this process used 200 ms more CPU (however loaded the machine is).
      while (cpu.used(pid).orElseThrow().minus(before).compareTo(Duration.ofMillis(200)) < 0
          && System.nanoTime() < deadline) {
        for (int i = 0; i < 100_000; i++) {
          spent += Long.numberOfTrailingZeros(System.nanoTime() + i);
        }
      }
      sampling.unwatch(pid);

      assertThat(spent).isPositive();
      assertThat(sampling.between(pid, from, System.nanoTime()))
          .hasValueSatisfying(
              used -> assertThat(used).isGreaterThanOrEqualTo(Duration.ofMillis(200)));
    }
  }
}
