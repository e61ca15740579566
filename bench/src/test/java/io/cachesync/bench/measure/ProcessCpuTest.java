package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProcessCpuTest {

  @Test
  void fromStat_commandWithSpacesAndParentheses_addsUserAndSystemTicks() {
    String stat =
        "4242 (java (main) x) S 1 4242 4242 0 -1 4194560 51234 0 12 0 1234 567 0 0 20 0 41 0"
            + " 168521 3133440000 78000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0"
            + " 0";

    assertThat(ProcessCpu.ofTicksPerSecond(100).fromStat(stat))
        .isEqualTo(Duration.ofMillis((1234 + 567) * 10));
  }

  @Test
  void fromStat_commandEndingLikeTheStatFields_readsFromTheLastParenthesis() {
    // A command may hold ") S 1 2" itself: only the last ')' ends it.
    String stat =
        "99 (evil) S 1 2 3 (x)) R 1 99 99 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0 5 1000 10"
            + " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";

    assertThat(ProcessCpu.ofTicksPerSecond(250).fromStat(stat))
        .isEqualTo(Duration.ofMillis((7 + 3) * 4));
  }

  @Test
  void ofThisMachineOrAssumed_onLinux_readsTheClockTicks() {
    ProcessCpu cpu = ProcessCpu.ofThisMachineOrAssumed();

    assertThat(cpu.assumed()).isFalse();
    assertThat(cpu.ticksPerSecond()).isPositive();
  }

  @Test
  void used_thisProcess_isSomeCpuTime() throws Exception {
    ProcessCpu cpu = ProcessCpu.ofThisMachine();

    assertThat(cpu.used(ProcessHandle.current().pid()))
        .hasValueSatisfying(used -> assertThat(used).isPositive());
  }

  @Test
  void used_noSuchProcess_isEmpty() throws Exception {
    assertThat(ProcessCpu.ofThisMachine().used(Integer.MAX_VALUE + 1L)).isEmpty();
  }
}
