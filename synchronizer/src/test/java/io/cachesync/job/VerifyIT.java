package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code cachesync verify}: each kind of drift is found, and {@code --repair} clears it. */
class VerifyIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n  - table: public.orders\n    key: \"order:{id}\"\n    format: json\n";

  private SyncHarness harness;

  @BeforeEach
  void setUp() throws Exception {
    harness = new SyncHarness("verify");
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text, email text, born date, score numeric(6,2), tags text[])",
        "CREATE TABLE orders (id int PRIMARY KEY, status text, total numeric(10,2), placed timestamptz, meta jsonb)",
        "INSERT INTO users SELECT i, 'user ' || i, NULL, '2000-01-01'::date + i, i / 3.0, ARRAY['a', 'b c'] FROM generate_series(1, 200) i",
        "INSERT INTO orders SELECT i, 'new', i * 1.5, '2026-11-25 10:00:00.123456+00', '{\"n\": 1.50}' FROM generate_series(1, 100) i");
    harness.start(MAPPING);
    await()
        .atMost(WAIT)
        .until(
            () ->
                harness.redis.keys("user:*").size() == 200
                    && harness.redis.keys("order:*").size() == 100);
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  private CommandRun verify(String... options) {
    String[] arguments = new String[3 + options.length];
    arguments[0] = "verify";
    arguments[1] = "--config";
    arguments[2] = harness.config(MAPPING).toString();
    System.arraycopy(options, 0, arguments, 3, options.length);
    return CommandRun.of(arguments);
  }

  @Test
  void verify_consistentCache_exitsZero() {
    CommandRun run = verify();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out())
        .isEqualTo(
            "public.users: 200 rows checked: consistent\npublic.orders: 100 rows checked: consistent\nconsistent\n");
  }

  @Test
  void verify_injectedDrift_findsEachKindAndRepairClearsIt() throws Exception {
    harness.redis.redis().del("user:1");
    harness.redis.redis().hset("user:2", "name", "changed behind our back");
    harness.redis.redis().hset("user:3", "extra", "a field no column has");
    harness.redis.redis().hset("user:999", Map.of("id", "999", "name", "no such row"));
    harness.redis.redis().del("user:4");
    harness.redis.redis().rpush("user:4", "a list where a hash belongs");
    String order = harness.redis.redis().get("order:2");
    harness
        .redis
        .redis()
        .set("order:2", order.replace("\"status\":\"new\"", "\"status\":\"lost\""));

    CommandRun run = verify();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(run.out())
        .contains("public.users: 200 rows checked: 1 missing, 2 stale, 1 orphan, 1 wrong type")
        .contains("user:1: missing (no key)")
        .contains("user:2: stale (fields name)")
        .contains("user:3: stale (fields extra)")
        .contains("user:4: wrong type (a list where a hash belongs)")
        .contains("user:999: orphan (no row)")
        .contains("public.orders: 100 rows checked: 0 missing, 1 stale, 0 orphan, 0 wrong type")
        .contains("order:2: stale (fields status)")
        .endsWith("drift found in 2 of 2 tables\n");

    JsonNode report = new ObjectMapper().readTree(verify("--json").out());
    assertThat(report.get("consistent").asBoolean()).isFalse();
    assertThat(report.get("tables").get(0).get("stale").asInt()).isEqualTo(2);
    assertThat(report.get("tables").get(1).get("examples").get(0).get("key").asText())
        .isEqualTo("order:2");

    CommandRun repaired = verify("--repair");

    assertThat(repaired.exitCode()).as(repaired.output()).isEqualTo(ExitCode.OK);
    assertThat(repaired.out())
        .contains("repairing public.users, public.orders (resync)")
        .endsWith("consistent\n");
    assertThat(verify().exitCode()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.redis().exists("user:999"))
        .as("a key of the template without a version, of no row, is the table's: repaired away")
        .isZero();
  }

  @Test
  void verify_keysAnEarlierTemplateWrote_areReportedAsOrphans() {
    harness.stopDaemon();
    harness.redis.redis().set("order:42:session", "the application's");
    String cards = "tables:\n  - table: public.orders\n    key: \"order:{id}:card\"\n";

    CommandRun run = CommandRun.of("verify", "--config", harness.config(cards).toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(run.out())
        .as("the daemon wrote order:1..100 under order:{id}, with their version")
        .contains("public.orders: 100 rows checked: 100 missing, 0 stale, 100 orphan, 0 wrong type")
        .doesNotContain("session");
  }

  @Test
  void verify_keysUnderThePrefixThatTheTemplateDoesNotMatch_areNotOrphans() {
    harness.stopDaemon();
    String cards = "tables:\n  - table: public.orders\n    key: \"order:{id}:card\"\n";
    CommandRun load =
        CommandRun.of("resync", "--config", harness.config(cards).toString(), "--quiet");
    assertThat(load.exitCode()).as(load.output()).isEqualTo(ExitCode.OK);
    harness.redis.redis().set("order:42:session", "the application's");
    harness.redis.redis().set("order:5000:card:extra", "the application's");
    harness.redis.redis().set("order:5000:card", "{\"id\":5000}");

    CommandRun run = CommandRun.of("verify", "--config", harness.config(cards).toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(run.out())
        .contains("public.orders: 100 rows checked: 0 missing, 0 stale, 1 orphan, 0 wrong type")
        .contains("order:5000:card: orphan (no row)")
        .doesNotContain("session")
        .doesNotContain("extra");
  }

  @Test
  void verify_sample_checksThatManyRowsPerTable() {
    CommandRun run = verify("--sample", "10", "--table", "public.users");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).isEqualTo("public.users: 10 rows checked: consistent\nconsistent\n");
  }
}
