package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which Redis errors are a row's value's fault (evict the row) and which are not (retry). */
class BatchTransactionTest {

  @Test
  void refusedForItsValue_ttlOutOfRange_isTheTablesConfigurationNotTheRow() {
    String error = "ERR value is not an integer or out of range";

    assertThat(BatchTransaction.refusedForItsValue(error)).isFalse();
    assertThat(BatchTransaction.refusedForItsTtl(error)).isTrue();
  }

  @Test
  void refusedForItsValue_invalidExpireTime_isTheTablesConfigurationNotTheRow() {
    String error = "ERR invalid expire time in 'expire' command";

    assertThat(BatchTransaction.refusedForItsValue(error)).isFalse();
    assertThat(BatchTransaction.refusedForItsTtl(error)).isTrue();
  }

  @Test
  void refusedForItsValue_tooManyFieldsForLua_isTheRowsValue() {
    assertThat(BatchTransaction.refusedForItsValue("ERR too many results to unpack")).isTrue();
  }
}
