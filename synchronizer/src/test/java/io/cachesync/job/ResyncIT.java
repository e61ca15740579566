package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code cachesync resync} with and without a running daemon. */
class ResyncIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n  - table: public.orders\n    key: \"order:{id}\"\n    format: json\n";

  private SyncHarness harness;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("resync");
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "CREATE TABLE orders (id int PRIMARY KEY, status text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 2000) i",
        "INSERT INTO orders SELECT i, 'new' FROM generate_series(1, 500) i");
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    harness.close();
  }

  private CommandRun resync(String... tables) {
    String[] arguments = new String[3 + 2 * tables.length + 1];
    arguments[0] = "resync";
    arguments[1] = "--config";
    arguments[2] = harness.config(MAPPING).toString();
    for (int i = 0; i < tables.length; i++) {
      arguments[3 + 2 * i] = "--table";
      arguments[4 + 2 * i] = tables[i];
    }
    arguments[arguments.length - 1] = "--quiet";
    return CommandRun.of(arguments);
  }

  @Test
  void resync_afterFlushallWhileTheDaemonRuns_restoresEveryKey() throws Exception {
    harness.start(MAPPING);
    await()
        .atMost(WAIT)
        .until(
            () ->
                harness.redis.keys("user:*").size() == 2000
                    && harness.redis.keys("order:*").size() == 500);

    harness.redis.redis().flushall();
    // The daemon notices the loss and stops for a reload (under `cachesync run` it would start
    // again at once); the resync then loads every table itself.
    await()
        .atMost(WAIT)
        .until(() -> harness.daemon().terminated().isDone() && harness.daemon().reloadNeeded());
    CommandRun run = resync();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).contains("resync done in").contains("2,500 rows loaded");
    assertThat(harness.redis.keys("user:*")).hasSize(2000);
    assertThat(harness.redis.keys("order:*")).hasSize(500);
    assertThat(harness.redis.hash("user:7")).isEqualTo(Map.of("id", "7", "name", "user 7"));
  }

  @Test
  void resync_oneTable_leavesTheOtherTablesKeysAloneAndRemovesOrphans() throws Exception {
    harness.start(MAPPING);
    await()
        .atMost(WAIT)
        .until(
            () ->
                harness.redis.keys("user:*").size() == 2000
                    && harness.redis.keys("order:*").size() == 500);
    String orderVersion = harness.redis.redis().get("order:1").substring(0, 40);
    harness.redis.redis().del("user:5");
    harness.redis.redis().hset("user:5000", Map.of("id", "5000", "name", "deleted long ago"));
    harness.redis.redis().set("user:not-a-number", "junk under the prefix");
    harness.redis.redis().set("users-elsewhere", "not under the prefix");
    harness.redis.redis().set("order:9999", "{\"__v\":\"" + "0".repeat(32) + "\",\"id\":9999}");

    CommandRun run = resync("public.users");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).contains("2 orphan keys removed").contains("public.users: 2,000 rows");
    assertThat(harness.redis.redis().exists("user:5")).isOne();
    assertThat(harness.redis.redis().exists("user:5000", "user:not-a-number")).isZero();
    assertThat(harness.redis.redis().exists("users-elsewhere", "order:9999")).isEqualTo(2);
    assertThat(harness.redis.redis().get("order:1")).startsWith(orderVersion);
  }

  @Test
  void resync_keysUnderThePrefixThatTheTemplateDoesNotMatch_areLeftAlone() {
    String profiles = "tables:\n  - table: public.users\n    key: \"user:{id}:profile\"\n";
    harness.redis.redis().set("user:42:session", "the application's");
    harness.redis.redis().set("user:5000:session", "the application's, of no row");
    harness.redis.redis().set("user:7", "the application's");
    harness.redis.redis().hset("user:5000:profile", Map.of("id", "5000", "name", "deleted"));

    CommandRun run =
        CommandRun.of("resync", "--config", harness.config(profiles).toString(), "--quiet");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.keys("user:*:profile")).hasSize(2000);
    assertThat(harness.redis.redis().exists("user:5000:profile")).isZero();
    assertThat(harness.redis.redis().exists("user:42:session", "user:5000:session", "user:7"))
        .isEqualTo(3);
  }

  @Test
  void resync_afterTheTemplateChanged_removesTheKeysCachesyncWroteUnderTheOldOne() {
    String version = "0".repeat(31) + "1";
    // What cachesync wrote under user:{id} (hash and json), and for an empty id in an older
    // release: each carries its version.
    harness.redis.redis().hset("user:3", Map.of("__v", version, "id", "3", "name", "user 3"));
    harness.redis.redis().set("user:9", "{\"__v\":\"" + version + "\",\"id\":9}");
    harness.redis.redis().hset("user:", Map.of("__v", version, "id", "", "name", "empty"));
    // The application's own keys under the prefix carry no version.
    harness.redis.redis().set("user:42:session", "the application's");
    harness.redis.redis().hset("user:43", Map.of("name", "the application's"));
    String v2 = "tables:\n  - table: public.users\n    key: \"user:{id}:v2\"\n";

    CommandRun run = CommandRun.of("resync", "--config", harness.config(v2).toString(), "--quiet");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.keys("user:*:v2")).hasSize(2000);
    assertThat(harness.redis.redis().exists("user:3", "user:9", "user:")).isZero();
    assertThat(harness.redis.redis().exists("user:42:session", "user:43")).isEqualTo(2);
  }

  @Test
  void resync_keyOnBytea_keepsTheKeysOfExistingRows() {
    harness.sql(
        "CREATE TABLE blobs (k bytea PRIMARY KEY, v int)",
        "INSERT INTO blobs VALUES ('\\x0102', 1), ('\\xdeadbeef', 2)");
    String blobs = "tables:\n  - table: public.blobs\n    key: \"blob:{k}\"\n";
    harness.redis.redis().hset("blob:/w==", Map.of("v", "0"));

    CommandRun run =
        CommandRun.of("resync", "--config", harness.config(blobs).toString(), "--quiet");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.keys("blob:*"))
        .as("the keys hold the bytes in base64, which the lookup decodes")
        .containsExactlyInAnyOrder("blob:AQI=", "blob:3q2+7w==");
  }

  @Test
  void resync_keyOnATimestampOrADate_keepsTheKeysOfExistingRows() {
    harness.sql(
        "CREATE TABLE readings (at timestamptz PRIMARY KEY, value int)",
        "INSERT INTO readings VALUES ('2026-11-25 19:24:35.80404+00', 1), ('2026-11-26 00:00:00+00', 2),"
            + " ('0044-03-15 12:00:00+00 BC', 3), ('12345-06-07 08:09:10+00', 4)",
        "CREATE DOMAIN day AS date CHECK (VALUE IS NOT NULL)",
        "CREATE TABLE days (d day PRIMARY KEY, value int)",
        "INSERT INTO days VALUES ('0044-03-15 BC', 1), ('0001-12-31 BC', 2), ('12345-06-07', 3),"
            + " ('2026-11-25', 4)");
    String readings =
        "tables:\n  - table: public.readings\n    key: \"reading:{at}\"\n"
            + "  - table: public.days\n    key: \"day:{d}\"\n";
    harness.redis.redis().hset("day:-0045-01-01", Map.of("__v", "0".repeat(32)));
    harness.redis.redis().hset("reading:2020-01-01T00:00:00.000000Z", Map.of("value", "0"));

    CommandRun run =
        CommandRun.of("resync", "--config", harness.config(readings).toString(), "--quiet");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.keys("reading:*"))
        .as("a key is the row's when the row renders it, whatever PostgreSQL's own text form")
        .containsExactlyInAnyOrder(
            "reading:2026-11-25T19:24:35.804040Z",
            "reading:2026-11-26T00:00:00.000000Z",
            "reading:-0043-03-15T12:00:00.000000Z",
            "reading:+12345-06-07T08:09:10.000000Z");
    assertThat(harness.redis.keys("day:*"))
        .as("dates before year 1 and after 9999, in a domain, are read back from their keys")
        .containsExactlyInAnyOrder(
            "day:-0043-03-15", "day:0000-12-31", "day:+12345-06-07", "day:2026-11-25");
  }

  @Test
  void resync_withoutADaemon_loadsAndADaemonStartedAfterwardsKeepsIt() throws Exception {
    CommandRun run = resync();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(harness.redis.keys("user:*")).hasSize(2000);
    assertThat(harness.redis.keys("order:*")).hasSize(500);

    harness.sql("UPDATE users SET name = 'changed' WHERE id = 1");
    harness.start(MAPPING);
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.hash("user:1")).containsEntry("name", "changed"));
    assertThat(harness.redis.hash("user:2")).isEqualTo(Map.of("id", "2", "name", "user 2"));
  }

  @Test
  void resync_unknownTable_namesTheMappedOnes() {
    CommandRun run = resync("public.nope");

    assertThat(run.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(run.err())
        .contains("error: table public.nope is not mapped (mapped: public.orders, public.users)");
  }
}
