package io.cachesync.bench.consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ReferenceProcessTest {
  private static final long S = 1_000_000_000L;
  private static final ReferenceProcess.ReceiptLag NO_LAG =
      new ReferenceProcess.ReceiptLag(0, 0, 0);

  @Test
  void drain_debeziumAlone_isEveryChangeFromStartToMarker() {
    ReferenceProcess.Segment segment =
        new ReferenceProcess.Segment(2, 1_000, 0, 10 * S, 11 * S, 0, 14 * S, false, NO_LAG);

    assertThat(segment.budgetRanOut()).isFalse();
    assertThat(segment.drain(1_000).took()).isEqualTo(Duration.ofSeconds(4));
    assertThat(segment.drain(1_000).rate()).isEqualTo(250.0);
  }

  @Test
  void drain_naiveWithinBudget_isEveryChangeFromStartToMarker() {
    ReferenceProcess.Segment segment =
        new ReferenceProcess.Segment(2, 1_000, 1_000, 10 * S, 11 * S, 13 * S, 14 * S, true, NO_LAG);

    assertThat(segment.budgetRanOut()).isFalse();
    assertThat(segment.drain(1_000).rate()).isEqualTo(250.0);
  }

  @Test
  void drain_naiveOutOfBudget_isWhatItWroteOverTheTimeItWrote() {
    ReferenceProcess.Segment segment =
        new ReferenceProcess.Segment(2, 1_000, 300, 10 * S, 11 * S, 13 * S, 14 * S, true, NO_LAG);

    assertThat(segment.budgetRanOut()).isTrue();
    assertThat(segment.drain(1_000).changes()).isEqualTo(300);
    assertThat(segment.drain(1_000).rate()).isEqualTo(150.0);
  }

  @Test
  void drain_naiveWroteNothing_fails() {
    ReferenceProcess.Segment segment =
        new ReferenceProcess.Segment(-1, 1, 0, 10 * S, 20 * S, 0, 20 * S, true, NO_LAG);

    assertThatThrownBy(() -> segment.drain(1_000)).hasMessageContaining("wrote nothing");
  }
}
