package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reader's comparison of HGETALL replies with the fields a key should hold, against a real
 * Redis: a hash read as expected holds exactly those fields in that order besides cachesync's own,
 * and every other hash comes back whole, as HGETALL answers it, for the comparison by name.
 */
class CacheReaderIT {
  private static final String[] ROW = {"id", "7", "name", "Zoë 🚀", "kind", "3"};

  private static RedisServer server;
  private static RedisProbe redis;
  private static LettuceCacheInspector inspector;

  @BeforeAll
  static void start() throws Exception {
    server = TestServers.redis();
    redis = new RedisProbe(server);
    inspector = LettuceCacheInspector.connect(new RedisSettings(server.uri()));
  }

  @AfterAll
  static void stop() {
    inspector.close();
    redis.close();
    server.close();
  }

  @BeforeEach
  void flush() {
    redis.redis().flushall();
  }

  @Test
  void hashesHoldingTheRowsFieldsInOrder_areReadAsExpected_keepingOnlyTheVersion() {
    hash("first", "__v", "00ab", "id", "7", "name", "Zoë 🚀", "kind", "3");
    hash("middle", "id", "7", "__v", "00ab", "name", "Zoë 🚀", "kind", "3");
    hash("last", "id", "7", "name", "Zoë 🚀", "kind", "3", "__v", "00ab");
    hash("none", "id", "7", "name", "Zoë 🚀", "kind", "3");

    List<CachedValue> values = read("first", "middle", "last", "none");

    for (CachedValue value : values.subList(0, 3)) {
      assertThat(value.asExpected()).isTrue();
      assertThat(value.type()).isEqualTo("hash");
      assertThat(value.fields()).containsExactly(Map.entry("__v", "00ab"));
    }
    assertThat(values.get(3).asExpected()).isTrue();
    assertThat(values.get(3).fields()).isEmpty();
  }

  @Test
  void everyOtherHash_comesBackWholeAsHgetallAnswersIt() {
    Map<String, String[]> keys = new LinkedHashMap<>();
    keys.put("value-differs", new String[] {"__v", "01", "id", "7", "name", "Zoe", "kind", "3"});
    keys.put("name-differs", new String[] {"__v", "01", "id", "7", "title", "Zoë 🚀", "kind", "3"});
    keys.put("first-differs", new String[] {"id", "8", "name", "Zoë 🚀", "kind", "3"});
    keys.put("a-field-more", new String[] {"id", "7", "name", "Zoë 🚀", "kind", "3", "x", "y"});
    keys.put("a-field-less", new String[] {"id", "7", "__v", "01", "name", "Zoë 🚀"});
    keys.put("other-order", new String[] {"name", "Zoë 🚀", "id", "7", "kind", "3"});
    keys.put("longer-value", new String[] {"id", "77", "name", "Zoë 🚀", "kind", "3"});
    keys.put("shorter-name", new String[] {"id", "7", "nam", "Zoë 🚀", "kind", "3"});
    keys.put("only-own", new String[] {"__v", "01"});
    // A value over 64 bytes: Redis keeps the hash as a table, whose fields come in any order.
    keys.put("large", new String[] {"id", "7", "name", "Zoë 🚀".repeat(20), "kind", "3"});
    keys.forEach(CacheReaderIT::hash);

    List<CachedValue> values = read(keys.keySet().toArray(String[]::new));

    int i = 0;
    for (String key : keys.keySet()) {
      CachedValue value = values.get(i++);
      assertThat(value.asExpected()).as(key).isFalse();
      assertThat(value.type()).as(key).isEqualTo("hash");
      assertThat(value.fields()).as(key).isEqualTo(redis.redis().hgetall(key));
    }
  }

  @Test
  void aMissingKey_isAbsent_andAKeyOfAnotherType_isNamedByItsType() {
    redis.redis().set("text", "not a hash");

    List<CachedValue> values = read("missing", "text");

    assertThat(values.get(0).absent()).isTrue();
    assertThat(values.get(0).asExpected()).isFalse();
    assertThat(values.get(1).type()).isEqualTo("string");
    assertThat(values.get(1).asExpected()).isFalse();
  }

  private static void hash(String key, String... fieldsAndValues) {
    // One field at a time, in order: a small hash answers in the order its fields were written.
    for (int i = 0; i < fieldsAndValues.length; i += 2) {
      redis.redis().hset(key, fieldsAndValues[i], fieldsAndValues[i + 1]);
    }
  }

  private static List<CachedValue> read(String... keys) {
    List<String[]> expected = new ArrayList<>();
    for (String ignored : keys) {
      expected.add(ROW);
    }
    try (LettuceCacheReader reader = inspector.openReader()) {
      return reader.sendHashes(List.of(keys), expected).values();
    }
  }
}
