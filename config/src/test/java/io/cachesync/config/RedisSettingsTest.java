package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RedisSettingsTest {

  @Test
  void redact_passwordOnly_hidesIt() {
    assertThat(RedisSettings.redact("redis://s3cret@host:6379"))
        .isEqualTo("redis://****@host:6379");
  }

  @Test
  void redact_userAndPassword_keepsTheUser() {
    assertThat(RedisSettings.redact("rediss://app:s3cret@host:6379/0"))
        .isEqualTo("rediss://app:****@host:6379/0");
  }

  @Test
  void redact_noUserInfo_isUnchanged() {
    assertThat(RedisSettings.redact("redis://host:6379")).isEqualTo("redis://host:6379");
  }

  @Test
  void new_sentinelUriWithMaster_isAccepted() {
    assertThat(new RedisSettings("redis-sentinel://h1:26379,h2:26379#mymaster").uri())
        .isEqualTo("redis-sentinel://h1:26379,h2:26379#mymaster");
  }

  @Test
  void new_uriWithoutHost_isRejected() {
    assertThatThrownBy(() -> new RedisSettings("redis://:s3cret@/0"))
        .hasMessage("'redis://:****@/0' names no host (e.g. redis://127.0.0.1:6379)");
  }
}
