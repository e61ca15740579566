package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code cachesync verify} keeps a bounded report: exact counts of each kind of drift, the first
 * 100 keys of each kind, and memory that grows neither with the table nor with the drift.
 */
class VerifyBoundedReportIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("verifybounded");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void verify_200kRowsAfterFlushallIn64MbOfHeap_countsEveryMissingKeyAndListsTheFirst100()
      throws Exception {
    int rows = 200_000;
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text, score numeric(8,2), tags text[])",
        "INSERT INTO users SELECT i, 'user ' || i, i / 3.0, ARRAY['a', 'b c']"
            + " FROM generate_series(1, "
            + rows
            + ") i",
        "ANALYZE users");
    harness.redis.redis().flushall();
    Path config = harness.config(MAPPING);
    File out = Files.createTempFile("cachesync-verify-", ".json").toFile();
    File err = Files.createTempFile("cachesync-verify-", ".log").toFile();
    out.deleteOnExit();
    err.deleteOnExit();

    // 64 MB: the verify before the bounded report kept every offender and ran out of it here.
    Process process =
        new ProcessBuilder(
                "java",
                "-Xmx64m",
                "-jar",
                JAR.toString(),
                "verify",
                "--config",
                config.toString(),
                "--json")
            .redirectOutput(out)
            .redirectError(err)
            .start();

    assertThat(process.waitFor(10, TimeUnit.MINUTES)).as("finished").isTrue();
    String log = Files.readString(err.toPath());
    assertThat(log).doesNotContain("OutOfMemoryError");
    assertThat(process.exitValue()).as(log).isEqualTo(ExitCode.DRIFT);
    JsonNode report = JSON.readTree(out);
    assertThat(report.get("consistent").asBoolean()).isFalse();
    assertThat(report.get("firstKeysLimit").asInt()).isEqualTo(100);
    JsonNode table = report.get("tables").get(0);
    assertThat(table.get("table").asText()).isEqualTo("public.users");
    assertThat(table.get("rowsChecked").asLong()).isEqualTo(rows);
    assertThat(table.get("keysChecked").asLong()).isZero();
    assertThat(table.get("sample").asInt()).isZero();
    assertThat(table.get("missing").asLong()).isEqualTo(rows);
    assertThat(table.get("stale").asLong()).isZero();
    assertThat(table.get("orphans").asLong()).isZero();
    assertThat(table.get("wrongType").asLong()).isZero();
    List<String> listed = texts(table.get("firstKeys").get("missing"));
    assertThat(listed).hasSize(100).doesNotHaveDuplicates();
    assertThat(listed).allMatch(key -> key.matches("user:[1-9][0-9]*"));
    assertThat(listed).allMatch(key -> Integer.parseInt(key.substring("user:".length())) <= rows);
    assertThat(table.get("firstKeys").get("stale")).isEmpty();
    assertThat(table.get("firstKeys").get("orphans")).isEmpty();
    assertThat(table.get("firstKeys").get("wrongType")).isEmpty();
    assertThat(table.get("examples")).hasSize(5);
    assertThat(table.get("examples").get(0).get("drift").asText()).isEqualTo("missing");
    assertThat(table.get("examples").get(0).get("detail").asText()).isEqualTo("no key");
  }

  /**
   * Drift of each kind, several hundred keys of each, planted while the daemon runs: every key is
   * looked at again before it counts (in batches), the counts are exact and the lists capped.
   */
  @Test
  void verify_plantedDriftOfEachKind_countsEachExactlyAndRepairClearsIt() throws Exception {
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text, email text)",
        "INSERT INTO users SELECT i, 'user ' || i, 'u' || i || '@example.com'"
            + " FROM generate_series(1, 5000) i");
    harness.start(MAPPING);
    await().atMost(WAIT).until(() -> harness.redis.keys("user:*").size() == 5000);
    Set<String> missing = keys(1, 700);
    harness.redis.redis().del(missing.toArray(String[]::new));
    Set<String> stale = keys(1001, 1520);
    stale.forEach(key -> harness.redis.redis().hset(key, "name", "changed behind our back"));
    Set<String> orphans = keys(10_001, 10_550);
    for (String key : orphans) {
      int id = Integer.parseInt(key.substring("user:".length()));
      if (id % 3 == 0) {
        harness.redis.redis().set(key, "not even a hash");
      } else if (id % 3 == 1) {
        harness.redis.redis().hset(key, Map.of("__v", "0".repeat(32), "name", "deleted"));
      } else {
        harness.redis.redis().hset(key, Map.of("name", "a cache-aside refill"));
      }
    }
    Set<String> wrongType = keys(2001, 2003);
    for (String key : wrongType) {
      harness.redis.redis().del(key);
      harness.redis.redis().rpush(key, "a list where a hash belongs");
    }

    CommandRun json = verify("--json");

    assertThat(json.exitCode()).as(json.output()).isEqualTo(ExitCode.DRIFT);
    JsonNode table = JSON.readTree(json.out()).get("tables").get(0);
    assertThat(table.get("rowsChecked").asLong()).isEqualTo(5000);
    assertThat(table.get("keysChecked").asLong()).isEqualTo(5000 - 700 + 550);
    assertThat(table.get("missing").asLong()).isEqualTo(700);
    assertThat(table.get("stale").asLong()).isEqualTo(520);
    assertThat(table.get("orphans").asLong()).isEqualTo(550);
    assertThat(table.get("wrongType").asLong()).isEqualTo(3);
    JsonNode firstKeys = table.get("firstKeys");
    assertThat(texts(firstKeys.get("missing"))).hasSize(100).doesNotHaveDuplicates();
    assertThat(missing).containsAll(texts(firstKeys.get("missing")));
    assertThat(texts(firstKeys.get("stale"))).hasSize(100).doesNotHaveDuplicates();
    assertThat(stale).containsAll(texts(firstKeys.get("stale")));
    assertThat(texts(firstKeys.get("orphans"))).hasSize(100).doesNotHaveDuplicates();
    assertThat(orphans).containsAll(texts(firstKeys.get("orphans")));
    assertThat(texts(firstKeys.get("wrongType"))).containsExactlyInAnyOrderElementsOf(wrongType);
    assertThat(table.get("examples")).hasSize(5 + 5 + 5 + 3);

    CommandRun text = verify();

    assertThat(text.exitCode()).as(text.output()).isEqualTo(ExitCode.DRIFT);
    assertThat(text.out())
        .contains(
            "public.users: 5,000 rows checked: 700 missing, 520 stale, 550 orphan, 3 wrong type")
        .contains("  and 695 more missing (--json lists the first 100 keys)")
        .contains("  and 515 more stale (--json lists the first 100 keys)")
        .contains("  and 545 more orphan (--json lists the first 100 keys)")
        .contains(": wrong type (a list where a hash belongs)")
        .doesNotContain("more wrong type")
        .endsWith("drift found in 1 of 1 tables\n");
    assertThat(text.out().lines().count()).as("fits on a screen").isLessThanOrEqualTo(25);

    CommandRun repaired = verify("--repair");

    assertThat(repaired.exitCode()).as(repaired.output()).isEqualTo(ExitCode.OK);
    assertThat(repaired.out()).endsWith("consistent\n");
    for (String key : wrongType) {
      assertThat(harness.redis.redis().type(key)).as(key).isEqualTo("hash");
    }
    assertThat(harness.redis.redis().exists("user:10001", "user:10002", "user:10003")).isZero();
  }

  @Test
  void verify_sample_checksThatManyRowsAndKeys() throws Exception {
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 20000) i",
        "ANALYZE users");
    harness.start(MAPPING);
    await().atMost(WAIT).until(() -> harness.redis.keys("user:*").size() == 20000);
    harness.stopDaemon();

    CommandRun consistent = verify("--sample", "50", "--json");

    assertThat(consistent.exitCode()).as(consistent.output()).isEqualTo(ExitCode.OK);
    JsonNode table = JSON.readTree(consistent.out()).get("tables").get(0);
    assertThat(table.get("sample").asInt()).isEqualTo(50);
    assertThat(table.get("rowsChecked").asLong())
        .as("50 rows drawn at random from a TABLESAMPLE of the table's pages")
        .isEqualTo(50);
    assertThat(table.get("keysChecked").asLong()).isEqualTo(50);

    harness.redis.redis().flushall();
    CommandRun drift = verify("--sample", "50", "--json");

    assertThat(drift.exitCode()).as(drift.output()).isEqualTo(ExitCode.DRIFT);
    JsonNode flushed = JSON.readTree(drift.out()).get("tables").get(0);
    assertThat(flushed.get("missing").asLong()).isEqualTo(50);
    assertThat(flushed.get("keysChecked").asLong()).isZero();
  }

  private CommandRun verify(String... options) {
    List<String> arguments =
        new ArrayList<>(List.of("verify", "--config", harness.config(MAPPING).toString()));
    arguments.addAll(List.of(options));
    return CommandRun.of(arguments.toArray(String[]::new));
  }

  private static Set<String> keys(int first, int last) {
    Set<String> keys = new HashSet<>();
    IntStream.rangeClosed(first, last).forEach(id -> keys.add("user:" + id));
    return keys;
  }

  private static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(node -> texts.add(node.asText()));
    return texts;
  }
}
