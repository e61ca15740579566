package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The invariant "no key exists for a row that does not exist" holds for every key a table's
 * template reads, whatever it holds: a cache-aside refill without cachesync's version, a value of
 * another type. A TRUNCATE evicts them as a DELETE of the row would, and {@code verify} calls the
 * cache consistent only once they are gone (a review's reproduction of a release that spared them).
 */
class TruncateEvictsEveryKeyIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n  - table: public.orders\n    key: \"order:{id}\"\n    format: json\n";

  private SyncHarness harness;

  @BeforeEach
  void setUp() throws Exception {
    harness = new SyncHarness("evictall");
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "CREATE TABLE orders (id int PRIMARY KEY, status text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 5) i",
        "INSERT INTO orders SELECT i, 'new' FROM generate_series(1, 5) i");
    harness.start(MAPPING);
    await()
        .atMost(WAIT)
        .until(
            () ->
                harness.redis.keys("user:*").size() == 5
                    && harness.redis.keys("order:*").size() == 5);
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
  void truncate_keysWithoutAVersionOrOfAnotherType_areEvictedAndVerifySaysSoOnlyThen() {
    var redis = harness.redis.redis();
    redis.del("user:3", "order:3", "user:4");
    redis.hset("user:3", Map.of("id", "3", "name", "refilled by the application"));
    redis.set("order:3", "{\"id\":3,\"status\":\"refilled by the application\"}");
    redis.rpush("user:4", "a list where a hash belongs");

    CommandRun before = verify();
    assertThat(before.exitCode()).as(before.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(before.out())
        .contains("user:3: stale (fields name)")
        .contains("user:4: wrong type (a list where a hash belongs)")
        .contains("order:3: stale (fields status)");

    harness.sql("TRUNCATE users, orders");

    await("every key of the truncated tables evicted")
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.keys("user:*")).isEmpty();
              assertThat(harness.redis.keys("order:*")).isEmpty();
            });
    CommandRun after = verify();
    assertThat(after.exitCode()).as(after.output()).isEqualTo(ExitCode.OK);
    assertThat(after.out()).endsWith("consistent\n");
  }

  @Test
  void verify_keyOfNoRowWithoutAVersion_isAnOrphanThatRepairRemoves() {
    harness.sql("TRUNCATE users, orders");
    await()
        .atMost(WAIT)
        .until(
            () ->
                harness.redis.keys("user:*").isEmpty() && harness.redis.keys("order:*").isEmpty());
    var redis = harness.redis.redis();
    redis.hset("user:3", Map.of("id", "3", "name", "refilled by the application"));
    redis.set("order:3", "{\"id\":3}");
    redis.rpush("user:4", "a list");

    CommandRun found = verify();

    assertThat(found.exitCode()).as(found.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(found.out())
        .contains("public.users: 0 rows checked: 0 missing, 0 stale, 2 orphan, 0 wrong type")
        .contains("user:3: orphan (no row)")
        .contains("user:4: orphan (no row)")
        .contains("order:3: orphan (no row)");

    CommandRun repaired = verify("--repair");

    assertThat(repaired.exitCode()).as(repaired.output()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.keys("user:*")).isEmpty();
    assertThat(harness.redis.keys("order:*")).isEmpty();
    assertThat(verify().exitCode()).isEqualTo(ExitCode.OK);
  }
}
