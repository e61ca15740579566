package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every type of the value encoding, in both formats, and TOAST values PostgreSQL did not send. */
class ValueEncodingIT {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MEGABYTE = "0123456789abcdef".repeat(65_536);
  private static SyncHarness harness;

  @BeforeAll
  static void start() throws Exception {
    harness = new SyncHarness("encoding");
    String columns =
        "id bigint PRIMARY KEY, small smallint, whole int, big bigint, real_number real, double_number"
            + " double precision, amount numeric(12,4), free numeric, flag boolean, label text, code"
            + " varchar(10), letter char(3), born date, at timestamptz, local_at timestamp, clock time,"
            + " ident uuid, raw bytea, numbers int[], words text[], doc jsonb, plain_json json, mood mood,"
            + " body text";
    harness.sql(
        "CREATE TYPE mood AS ENUM ('happy', 'sad')",
        "CREATE TABLE hashes (" + columns + ")",
        "CREATE TABLE jsons (" + columns + ")");
    harness.start(
        "tables:\n  - table: public.hashes\n    key: \"h:{id}\"\n  - table: public.jsons\n    key: \"j:{id}\"\n    format: json\n");
    await().atMost(WAIT).until(() -> harness.daemon().state() == io.cachesync.Daemon.State.RUNNING);
    for (String table : new String[] {"hashes", "jsons"}) {
      harness.sql(
          "INSERT INTO "
              + table
              + " VALUES (1, -32768, 2147483647, 9223372036854775807, 0.1, 0.1,"
              + " 12.5000, 0.000000000000000000001, true, 'tab\tnew\nline \"quoted\" é', 'abc', 'x',"
              + " '2026-11-25', '2026-11-25 19:24:35.80404+01', '2026-11-25 19:24:35.000001', '13:14:15.5',"
              + " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', '{1,NULL,3}', '{\"a b\",c}',"
              + " '{\"k\": [1, 2.50, {\"n\": null}], \"big\": 12345678901234567890}', '{\"x\":1}', 'happy',"
              + " '"
              + MEGABYTE
              + "')",
          "INSERT INTO " + table + " (id) VALUES (2)");
    }
    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.redis().exists("h:2", "j:2")).isEqualTo(2));
  }

  @AfterAll
  static void stop() {
    harness.close();
  }

  @Test
  void hash_everyType_isStoredInItsDocumentedTextForm() {
    Map<String, String> hash = harness.redis.hash("h:1");

    assertThat(hash)
        .containsEntry("small", "-32768")
        .containsEntry("whole", "2147483647")
        .containsEntry("big", "9223372036854775807")
        .containsEntry("real_number", "0.1")
        .containsEntry("double_number", "0.1")
        .containsEntry("amount", "12.5000")
        .containsEntry("free", "0.000000000000000000001")
        .containsEntry("flag", "true")
        .containsEntry("label", "tab\tnew\nline \"quoted\" é")
        .containsEntry("code", "abc")
        .containsEntry("letter", "x  ")
        .containsEntry("born", "2026-11-25")
        .containsEntry("at", "2026-11-25T18:24:35.804040Z")
        .containsEntry("local_at", "2026-11-25T19:24:35.000001")
        .containsEntry("clock", "13:14:15.500000")
        .containsEntry("ident", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        .containsEntry("raw", Base64.getEncoder().encodeToString(new byte[] {0, (byte) 0xff, 0x10}))
        .containsEntry("numbers", "[1,null,3]")
        .containsEntry("words", "[\"a b\",\"c\"]")
        .containsEntry("plain_json", "{\"x\":1}")
        .containsEntry("mood", "happy")
        .containsEntry("body", MEGABYTE);
    assertThat(hash.get("doc"))
        .isEqualTo("{\"k\": [1, 2.50, {\"n\": null}], \"big\": 12345678901234567890}");
  }

  @Test
  void hash_nullColumns_areAbsent() {
    assertThat(harness.redis.hash("h:2")).isEqualTo(Map.of("id", "2"));
    assertThat(harness.redis.redis().hget("h:2", "__v")).hasSize(32);
  }

  @Test
  void json_everyType_isEmbeddedAsDocumented() throws Exception {
    JsonNode value = JSON.readTree(harness.redis.redis().get("j:1"));

    assertThat(value.get("__v").asText()).hasSize(32);
    assertThat(value.get("small").isIntegralNumber()).isTrue();
    assertThat(value.get("big").asText()).isEqualTo("9223372036854775807");
    assertThat(value.get("double_number").isNumber()).isTrue();
    assertThat(value.get("amount").isTextual()).as("numeric is a string").isTrue();
    assertThat(value.get("amount").asText()).isEqualTo("12.5000");
    assertThat(value.get("flag").isBoolean()).isTrue();
    assertThat(value.get("label").asText()).isEqualTo("tab\tnew\nline \"quoted\" é");
    assertThat(value.get("at").asText()).isEqualTo("2026-11-25T18:24:35.804040Z");
    assertThat(value.get("numbers").toString()).isEqualTo("[1,null,3]");
    assertThat(value.get("doc").isObject()).as("jsonb is embedded, not quoted").isTrue();
    assertThat(value.get("doc").get("big").toString()).isEqualTo("12345678901234567890");
    assertThat(value.get("plain_json").get("x").asInt()).isEqualTo(1);
    assertThat(value.get("body").asText()).hasSize(MEGABYTE.length());
  }

  @Test
  void json_nullColumns_areNull() throws Exception {
    JsonNode value = JSON.readTree(harness.redis.redis().get("j:2"));

    assertThat(value.get("label").isNull()).isTrue();
    assertThat(value.get("doc").isNull()).isTrue();
  }

  @Test
  void update_notTouchingAToastedColumn_keepsItsCachedValue() {
    harness.sql(
        "INSERT INTO hashes (id, label, body) VALUES (10, 'before', '" + MEGABYTE + "')",
        "INSERT INTO jsons (id, label, body) VALUES (10, 'before', '" + MEGABYTE + "')");
    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.redis().exists("h:10", "j:10")).isEqualTo(2));

    harness.sql(
        "UPDATE hashes SET label = 'toast kept' WHERE id = 10",
        "UPDATE jsons SET label = 'toast kept' WHERE id = 10");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.hash("h:10"))
                  .containsEntry("label", "toast kept")
                  .containsEntry("body", MEGABYTE);
              JsonNode value = JSON.readTree(harness.redis.redis().get("j:10"));
              assertThat(value.get("label").asText()).isEqualTo("toast kept");
              assertThat(value.get("body").asText()).isEqualTo(MEGABYTE);
            });
    // The placeholder the decoder configures (ToastPlaceholder), not Debezium's default.
    assertThat(harness.redis.redis().get("j:10")).doesNotContain("__cachesync_unchanged_toast");
    assertThat(harness.redis.hash("h:10").values())
        .noneMatch(value -> value.contains("__cachesync_unchanged_toast"));
  }

  @Test
  void update_notTouchingAToastedColumnOfAnUncachedRow_leavesTheKeyAbsent() {
    harness.sql(
        "INSERT INTO hashes (id, body) VALUES (3, '" + MEGABYTE + "')",
        "INSERT INTO jsons (id, body) VALUES (3, '" + MEGABYTE + "')");
    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.redis().exists("h:3", "j:3")).isEqualTo(2));
    harness.redis.redis().del("h:3", "j:3");

    harness.sql(
        "UPDATE hashes SET label = 'x' WHERE id = 3",
        "UPDATE jsons SET label = 'x' WHERE id = 3",
        "INSERT INTO hashes (id) VALUES (4)");

    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.redis().exists("h:4")).isEqualTo(1));
    assertThat(harness.redis.redis().exists("h:3", "j:3")).as("no value without its body").isZero();
  }

  @Test
  void update_movingARowToANewKeyWithoutTouchingAToastedColumn_keepsTheValueUnderTheNewKey() {
    harness.sql(
        "INSERT INTO hashes (id, label, body) VALUES (20, 'moving', '" + MEGABYTE + "')",
        "INSERT INTO jsons (id, label, body) VALUES (20, 'moving', '" + MEGABYTE + "')");
    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.redis().exists("h:20", "j:20")).isEqualTo(2));

    harness.sql(
        "UPDATE hashes SET id = 21 WHERE id = 20", "UPDATE jsons SET id = 21 WHERE id = 20");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.hash("h:21"))
                  .containsEntry("label", "moving")
                  .containsEntry("body", MEGABYTE);
              // The two moves are two transactions: j:21 may come a batch after h:21.
              String json = harness.redis.redis().get("j:21");
              assertThat(json).as("j:21").isNotNull();
              assertThat(JSON.readTree(json).get("body").asText()).isEqualTo(MEGABYTE);
            });
    assertThat(harness.redis.redis().exists("h:20", "j:20")).isZero();
  }

  @Test
  void update_ofATextEqualToDebeziumsDefaultPlaceholder_isWrittenLikeAnyText() {
    harness.sql(
        "INSERT INTO hashes (id, label) VALUES (30, 'x')",
        "UPDATE hashes SET label = '__debezium_unavailable_value' WHERE id = 30");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.hash("h:30"))
                    .containsEntry("label", "__debezium_unavailable_value"));
  }
}
