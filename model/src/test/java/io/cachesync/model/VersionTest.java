package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class VersionTest {

  @Test
  void text_isFixedWidthAndOrderedLikeTheVersion() {
    Version low = new Version(0x16B3748L, 0xFFFFFFFFL);
    Version high = new Version(0x16B3749L, 0x1L);

    assertThat(low.text()).hasSize(32).isEqualTo("00000000016b374800000000ffffffff");
    assertThat(low.text().compareTo(high.text())).isNegative();
    assertThat(low.compareTo(high)).isNegative();
    assertThat(Version.parse(high.text())).isEqualTo(high);
  }

  @Test
  void snapshot_isAboveEarlierCommitsAndBelowLaterChanges() {
    Version snapshot = Version.snapshot(0x5000);

    assertThat(new Version(0x4FFF, 0x6000)).isLessThan(snapshot);
    assertThat(new Version(0x5000, 0x10)).isGreaterThan(snapshot);
  }

  @Test
  void toString_printsLsnsAsPostgresDoes() {
    assertThat(new Version(0x16B3748L, 0x100000000L)).hasToString("1/0 (after commit 0/16B3748)");
  }
}
