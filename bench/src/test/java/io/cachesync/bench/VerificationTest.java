package io.cachesync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.bench.consumer.CachesyncJar;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.report.VerifyResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class VerificationTest {
  private static final CachesyncJar.Outcome FLUSHED = outcome(true, 1, "drift found");

  @Test
  void ofW8_consistentRunExitedZero_isConsistent() {
    Verification.Verdict verdict =
        Verification.ofW8(
            new VerifyResult(10, Duration.ofSeconds(90), outcome(true, 0, "ok"), FLUSHED));

    assertThat(verdict.consistent()).isTrue();
    assertThat(verdict.lines()).singleElement().asString().contains("every key equals its row");
  }

  @Test
  void ofW8_consistentRunFoundDrift_failsWithItsOutput() {
    Verification.Verdict verdict =
        Verification.ofW8(
            new VerifyResult(
                10, Duration.ofSeconds(90), outcome(true, 1, "loaded:3: missing"), FLUSHED));

    assertThat(verdict.consistent()).isFalse();
    assertThat(verdict.lines()).contains("  loaded:3: missing");
  }

  @Test
  void ofW8_consistentRunStopped_saysItIsUnchecked() {
    Verification.Verdict verdict =
        Verification.ofW8(
            new VerifyResult(10, Duration.ofSeconds(90), outcome(false, -1, ""), FLUSHED));

    assertThat(verdict.consistent()).isTrue();
    assertThat(verdict.lines()).singleElement().asString().contains("not checked");
  }

  @Test
  void check_noTargets_isConsistentWithoutRunningAnything() throws Exception {
    Verification.Verdict verdict =
        new Verification(
                new CachesyncJar(Path.of("no-such.jar"), Path.of(".")), 0, Duration.ofSeconds(1))
            .check(List.of());

    assertThat(verdict.consistent()).isTrue();
    assertThat(verdict.lines()).isEmpty();
  }

  @Test
  void and_oneInconsistent_isInconsistentWithBothLines() {
    Verification.Verdict both =
        new Verification.Verdict(true, List.of("a"))
            .and(new Verification.Verdict(false, List.of("b")));

    assertThat(both.consistent()).isFalse();
    assertThat(both.lines()).containsExactly("a", "b");
  }

  private static CachesyncJar.Outcome outcome(boolean finished, int exit, String output) {
    return new CachesyncJar.Outcome(
        finished, exit, output, Duration.ofSeconds(5), Memory.UNKNOWN, Optional.empty(), 0, 5);
  }
}
