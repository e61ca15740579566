package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
  void text_ofAnyVersion_isBothNumbersInSixteenHexDigits_andParsesBack() {
    Random random = new Random(7);
    for (int i = 0; i < 10_000; i++) {
      long commit = i % 3 == 0 ? random.nextLong() : random.nextInt() & 0xFFFFFFFFL;
      long lsn = i % 5 == 0 ? -1L : random.nextLong() >>> random.nextInt(64);
      Version version = new Version(commit, lsn);
      String expected =
          String.format("%16s", Long.toHexString(commit)).replace(' ', '0')
              + String.format("%16s", Long.toHexString(lsn)).replace(' ', '0');
      assertThat(version.text()).isEqualTo(expected);
      assertThat(Version.parse(version.text())).isEqualTo(version);
    }
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

  @Test
  void applied_lsnBelowCommit_isTheCommit() {
    // A transaction begun before the previous one committed writes below that commit.
    assertThat(new Version(0x5000, 0x4F00).applied()).isEqualTo(0x5000);
  }

  @Test
  void applied_lsnAboveCommit_isTheLsn() {
    assertThat(new Version(0x5000, 0x5128).applied()).isEqualTo(0x5128);
    assertThat(new Version(0x5000, 0x5000).applied()).isEqualTo(0x5000);
  }

  @Test
  void applied_noCommitSeenYet_isTheLsn() {
    assertThat(new Version(0, 0x28).applied()).isEqualTo(0x28);
    assertThat(Version.ZERO.applied()).isZero();
  }

  @Test
  void applied_lsnsAbove2To63_comparedUnsigned() {
    assertThat(new Version(0x10, 0x8000000000000000L).applied()).isEqualTo(0x8000000000000000L);
    assertThat(new Version(0x8000000000000000L, 0x10).applied()).isEqualTo(0x8000000000000000L);
  }

  @Test
  void applied_initialLoadVersion_isRefused() {
    assertThatThrownBy(() -> Version.snapshot(0x5000).applied())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("initial load");
  }

  @Test
  void appliedText_isSixteenLowercaseHexDigitsOrderedLikeTheNumber() {
    assertThat(new Version(0x16B3748L, 0x1L).appliedText()).isEqualTo("00000000016b3748");
    Random random = new Random(7);
    for (int i = 0; i < 10_000; i++) {
      long a = (random.nextLong() >>> random.nextInt(64)) | 8;
      long b = (random.nextLong() >>> random.nextInt(64)) | 8;
      String textA = new Version(a, 1).appliedText();
      String textB = new Version(b, 1).appliedText();
      assertThat(textA).hasSize(16).matches("[0-9a-f]{16}");
      assertThat(Integer.signum(textA.compareTo(textB)))
          .as("%s vs %s", textA, textB)
          .isEqualTo(Integer.signum(Long.compareUnsigned(a, b)));
    }
  }

  /**
   * A stream as pgoutput delivers it: whole transactions in commit order, each change below its
   * transaction's commit, some begun (and writing) before earlier ones committed; a change's
   * version names the commit of the transaction before. applied() never goes down along it, and
   * covers every commit before the change's transaction.
   */
  @Test
  void applied_alongAStreamInCommitOrder_neverDecreasesAndCoversEarlierCommits() {
    Random random = new Random(42);
    long walEnd = 0x1000;
    long previousCommit = 0;
    long previousApplied = -1;
    for (int transaction = 0; transaction < 2_000; transaction++) {
      // Its changes: anywhere after some earlier point (it may have begun long ago), in LSN order.
      long begin = Math.max(8, walEnd - random.nextInt(0x800));
      List<Long> changes = new ArrayList<>();
      long lsn = begin;
      for (int change = 0; change <= random.nextInt(4); change++) {
        lsn = Math.max(lsn, begin) + 8 + 8L * random.nextInt(64);
        changes.add(lsn);
      }
      long commitStart = Math.max(walEnd, lsn) + 8 + 8L * random.nextInt(16);
      long commitEnd = commitStart + 32;
      for (long change : changes) {
        Version version = new Version(previousCommit, change);
        assertThat(version.applied()).isGreaterThanOrEqualTo(previousApplied);
        assertThat(version.applied()).isGreaterThanOrEqualTo(previousCommit);
        assertThat(version.applied()).isLessThan(commitEnd);
        previousApplied = version.applied();
      }
      previousCommit = commitEnd;
      walEnd = commitEnd;
    }
  }
}
