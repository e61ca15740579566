package io.cachesync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.StartDecision.Kind;
import io.cachesync.StartDecision.StoredOffsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StartDecisionTest {
  private static final String SLOT = "cachesync_shop";
  private static final Optional<StoredOffsets> AT_100 = Optional.of(new StoredOffsets(100, false));

  @Test
  void of_nothingStoredNoSlot_isAFirstStartWithoutSweep() {
    StartDecision decision = StartDecision.of(SLOT, Optional.empty(), Optional.empty(), false);

    assertThat(decision)
        .isEqualTo(new StartDecision(Kind.FIRST_START, Optional.empty(), false, false));
    assertThat(decision.loadsEverything()).isTrue();
  }

  @Test
  void of_firstStartAfterAReloadStoppedEarly_keepsTheRecordedSweep() {
    StartDecision decision = StartDecision.of(SLOT, Optional.empty(), Optional.empty(), true);

    assertThat(decision.kind()).isEqualTo(Kind.FIRST_START);
    assertThat(decision.sweep()).isTrue();
  }

  @Test
  void of_slotButNoOffsets_reloadsDroppingTheSlot() {
    StartDecision decision = StartDecision.of(SLOT, Optional.of(50L), Optional.empty(), false);

    assertThat(decision.kind()).isEqualTo(Kind.RELOAD);
    assertThat(decision.dropSlot()).isTrue();
    assertThat(decision.sweep()).isTrue();
    assertThat(decision.reason())
        .hasValue(
            "Redis holds no position for replication slot cachesync_shop (the cache was flushed or"
                + " lost, or its initial load did not finish)");
  }

  @Test
  void of_offsetsButNoSlot_reloadsWithNothingToDrop() {
    StartDecision decision = StartDecision.of(SLOT, Optional.empty(), AT_100, false);

    assertThat(decision.kind()).isEqualTo(Kind.RELOAD);
    assertThat(decision.dropSlot()).isFalse();
    assertThat(decision.reason().orElseThrow())
        .startsWith("replication slot cachesync_shop is gone although Redis holds a position");
  }

  @Test
  void of_initialLoadInterrupted_reloadsOnANewSlot() {
    StartDecision decision =
        StartDecision.of(SLOT, Optional.of(100L), Optional.of(new StoredOffsets(100, true)), false);

    assertThat(decision.kind()).isEqualTo(Kind.RELOAD);
    assertThat(decision.dropSlot()).isTrue();
    assertThat(decision.reason().orElseThrow()).startsWith("the initial load was interrupted");
  }

  @Test
  void of_slotConfirmedPastTheStoredOffsets_reloadsNamingBothPositions() {
    StartDecision decision = StartDecision.of(SLOT, Optional.of(101L), AT_100, false);

    assertThat(decision.kind()).isEqualTo(Kind.RELOAD);
    assertThat(decision.dropSlot()).isTrue();
    assertThat(decision.reason().orElseThrow())
        .contains("was confirmed up to 0/65, past the position stored in Redis (0/64)");
  }

  @Test
  void of_slotAtOrBehindTheStoredOffsets_resumes() {
    assertThat(StartDecision.of(SLOT, Optional.of(100L), AT_100, true))
        .isEqualTo(new StartDecision(Kind.RESUME, Optional.empty(), false, false));
    assertThat(StartDecision.of(SLOT, Optional.of(0L), AT_100, false).loadsEverything()).isFalse();
  }

  @Test
  void new_reloadWithoutReason_isRefused() {
    assertThatThrownBy(() -> new StartDecision(Kind.RELOAD, Optional.empty(), true, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a reason is given for a reload, and only for one");
  }
}
