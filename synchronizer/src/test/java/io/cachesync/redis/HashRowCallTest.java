package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class HashRowCallTest {
  private static final String VERSION = "00000000000000000000000000000001";

  @Test
  void fits_emptyCall_takesAnyRow() {
    assertThat(new HashRowCall().fits(1_600, 3_200, Long.MAX_VALUE, 10)).isTrue();
  }

  @Test
  void fits_fullCall_takesNoMoreRows() {
    HashRowCall call = new HashRowCall();
    for (int row = 0; row < HashRowCall.MAX_ROWS; row++) {
      call.add("k" + row, "k" + row, VERSION, "0", List.of(), List.of("id", "1"));
    }

    assertThat(call.rows()).isEqualTo(HashRowCall.MAX_ROWS);
    assertThat(call.fits(0, 2, 16, Long.MAX_VALUE)).isFalse();
  }

  @Test
  void fits_rowPastTheValueLimit_refused() {
    HashRowCall call = new HashRowCall();
    call.add("k", "k", VERSION, "0", List.of(), List.of("id", "1"));

    assertThat(call.fits(0, HashRowCall.MAX_VALUES - 10, 16, Long.MAX_VALUE)).isTrue();
    assertThat(call.fits(0, HashRowCall.MAX_VALUES - 9, 16, Long.MAX_VALUE)).isFalse();
  }

  @Test
  void fits_rowPastTheByteLimit_refused() {
    HashRowCall call = new HashRowCall();
    call.add("k", "k", VERSION, "0", List.of(), List.of("id", "1"));
    long packed = call.packedValues().length;

    assertThat(call.fits(0, 2, 100 - packed, 100)).isTrue();
    assertThat(call.fits(0, 2, 101 - packed, 100)).isFalse();
  }

  @Test
  void clear_startsAnEmptyCall() {
    HashRowCall call = new HashRowCall();
    call.add("k", "old", VERSION, "60", List.of("doc"), List.of("id", "1"));

    call.clear();

    assertThat(call.rows()).isZero();
    assertThat(call.keys()).isEmpty();
    assertThat(call.packedValues()).isEmpty();
  }
}
