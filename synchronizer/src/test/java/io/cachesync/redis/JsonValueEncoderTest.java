package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.redis.JsonValueEncoder.CachedJson;
import org.junit.jupiter.api.Test;

class JsonValueEncoderTest {
  private static final String CACHED =
      "{\"__v\":\"0000000000000000000000000000002a\",\"a\":1.0,\"b\":{\"x\": 2.50, \"s\":\"q\\\"z\"},"
          + "\"c\":\"str\",\"d\":null,\"e\":[1.0, \"x\", 1e3],\"f\":0.25000000000000000000}";

  @Test
  void member_numbersAndNestedValues_copiesTheCachedTextExactly() {
    CachedJson cached = CachedJson.parse(CACHED).orElseThrow();

    assertThat(cached.version()).isEqualTo("0000000000000000000000000000002a");
    assertThat(cached.member("a")).isEqualTo("1.0");
    assertThat(cached.member("b")).isEqualTo("{\"x\": 2.50, \"s\":\"q\\\"z\"}");
    assertThat(cached.member("c")).isEqualTo("\"str\"");
    assertThat(cached.member("d")).isEqualTo("null");
    assertThat(cached.member("e")).isEqualTo("[1.0, \"x\", 1e3]");
    assertThat(cached.member("f")).isEqualTo("0.25000000000000000000");
  }

  @Test
  void member_absentOrNotAnObject_isNull() {
    assertThat(CachedJson.parse(CACHED).orElseThrow().member("zz")).isNull();
    assertThat(new CachedJson("1", "[1,2]").member("a")).isNull();
  }
}
