package io.cachesync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ResyncSuiteTest {

  @Test
  void summary_resyncOutput_readsRowsAndSeconds() {
    String output =
        "resync done in 47.1 s: 1,000,000 rows loaded (21,231 rows/s), 0 orphan keys removed\n"
            + "  public.resynced: 1,000,000 rows\n";

    assertThat(ResyncSuite.summary(output))
        .hasValueSatisfying(
            drain -> {
              assertThat(drain.changes()).isEqualTo(1_000_000);
              assertThat(drain.took()).isEqualTo(Duration.ofMillis(47_100));
            });
  }

  @Test
  void summary_noSummaryLine_isEmpty() {
    assertThat(ResyncSuite.summary("resync stopped before the load finished")).isEmpty();
  }
}
