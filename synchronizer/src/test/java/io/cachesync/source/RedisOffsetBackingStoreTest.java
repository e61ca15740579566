package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reading the offsets Debezium's PostgreSQL connector stores (as it serializes them in 3.6). */
class RedisOffsetBackingStoreTest {
  private static final String PARTITION = encode("[\"cachesync\",{\"server\":\"cachesync\"}]");

  private static String encode(String json) {
    return Base64.getEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8));
  }

  private static Map<String, String> offsets(String json) {
    return Map.of(PARTITION, encode(json));
  }

  @Test
  void initialLoadInterrupted_whileTheSnapshotRuns_isTrue() {
    assertThat(
            RedisOffsetBackingStore.initialLoadInterrupted(
                offsets(
                    "{\"last_snapshot_record\":false,\"lsn\":23456,\"txId\":750,"
                        + "\"ts_usec\":1764100000000000,\"snapshot\":\"INITIAL\","
                        + "\"snapshot_completed\":false}")))
        .isTrue();
  }

  @Test
  void initialLoadInterrupted_onTheLoadsLastRecord_isTrue() {
    // Debezium marks the load complete only after its last record: it would read the tables again.
    assertThat(
            RedisOffsetBackingStore.initialLoadInterrupted(
                offsets(
                    "{\"last_snapshot_record\":true,\"lsn\":23456,\"snapshot\":\"INITIAL\","
                        + "\"snapshot_completed\":false}")))
        .isTrue();
  }

  @Test
  void initialLoadInterrupted_whileStreaming_isFalse() {
    assertThat(
            RedisOffsetBackingStore.initialLoadInterrupted(
                offsets(
                    "{\"lsn_proc\":23500,\"messageType\":\"UPDATE\",\"lsn_commit\":23400,"
                        + "\"lsn\":23500,\"txId\":751,\"ts_usec\":1764100000000001}")))
        .isFalse();
  }

  @Test
  void initialLoadInterrupted_afterTheLoadCompleted_isFalse() {
    assertThat(
            RedisOffsetBackingStore.initialLoadInterrupted(
                offsets(
                    "{\"lsn\":23456,\"snapshot\":\"INITIAL\",\"last_snapshot_record\":true,"
                        + "\"snapshot_completed\":true}")))
        .isFalse();
  }

  @Test
  void readers_ignoreWhatIsNotAnOffset() {
    Map<String, String> state = Map.of("__epoch", "not base64 json!", PARTITION, encode("[1,2"));
    assertThat(RedisOffsetBackingStore.initialLoadInterrupted(state)).isFalse();
    assertThat(RedisOffsetBackingStore.furthestLsn(state)).isZero();
  }

  @Test
  void furthestLsn_isTheGreatestPositionNamed() {
    assertThat(
            RedisOffsetBackingStore.furthestLsn(
                offsets("{\"lsn_proc\":23500,\"lsn_commit\":23400,\"lsn\":23450}")))
        .isEqualTo(23500);
  }
}
