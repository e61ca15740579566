package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class InitialLoadWatchTest {

  @Test
  void completed_completesOnce() {
    InitialLoadWatch watch = new InitialLoadWatch();

    assertThat(watch.completes("STARTED")).isFalse();
    assertThat(watch.completes("COMPLETED")).isTrue();
    assertThat(watch.completes("COMPLETED")).isFalse();
  }

  @Test
  void skipped_onAResumedStart_isNoLoad() {
    assertThat(new InitialLoadWatch().completes("SKIPPED")).isFalse();
  }

  @Test
  void skipped_afterTheLoadStarted_completes() {
    // The task failed as streaming began; the restarted one found the load done in the offsets.
    InitialLoadWatch watch = new InitialLoadWatch();
    watch.completes("STARTED");

    assertThat(watch.completes("SKIPPED")).isTrue();
  }

  @Test
  void skipped_afterRowsWereApplied_completes() {
    InitialLoadWatch watch = new InitialLoadWatch();
    watch.rowApplied();

    assertThat(watch.completes("SKIPPED")).isTrue();
  }

  @Test
  void aborted_thenStartedAgain_completesWithTheRerun() {
    InitialLoadWatch watch = new InitialLoadWatch();
    watch.completes("STARTED");

    assertThat(watch.completes("ABORTED")).isFalse();
    assertThat(watch.completes("STARTED")).isFalse();
    assertThat(watch.completes("COMPLETED")).isTrue();
  }
}
