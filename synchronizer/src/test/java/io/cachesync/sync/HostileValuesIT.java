package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cachesync.Daemon;
import io.cachesync.cli.ExitCode;
import io.cachesync.model.DisplayText;
import io.cachesync.model.Version;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.SyncHarness;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RestoreArgs;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile values (issue 16), a seeded property test against real PostgreSQL and Redis: five tables
 * whose templates share their leading literal {@code user} and hold glob characters, braces and
 * separators, keyed by text, bigint, uuid, bytea and numeric columns, two of them composite, in
 * both formats; key values drawn from glob characters, braces, the templates' separators, control
 * characters, newlines, 100 KB and out-of-line (TOASTed) text, astral-plane, combining,
 * right-to-left and invisible characters; JSON and hash values drawn from the same. Next to them,
 * keys the application keeps ("foreign" keys): some under the tables' prefixes, some lookalikes of
 * an unescaped glob, one whose name is not UTF-8; and keys of the application's that a table's
 * template reads ("claimed" keys, without cachesync's version, some of another type): they are in
 * that table's key space, so a TRUNCATE of the table, a sweep and {@code verify --repair} remove
 * them, as they remove any key of a row that does not exist.
 *
 * <p>While the daemon streams, random transactions insert, update, delete, move rows to other keys
 * and truncate tables. Then, and after each of {@code verify}, {@code verify --repair}, {@code
 * resync} (each with cachesync's own orphan keys and the claimed keys planted first), a TRUNCATE of
 * one table, and the reload after a cache loss with its orphan sweep: every key in Redis is either
 * a foreign key, byte for byte as the application wrote it ({@code DUMP}), a claimed key as planted
 * where no sweep or TRUNCATE of its table ran since, or the key of exactly one existing row,
 * computed by SQL independently of cachesync's code, holding exactly that row's encoded value; and
 * every row that can be cached is.
 *
 * <p>System properties: {@code cachesync.seed} replays a run (the same seed runs the same
 * statements), {@code cachesync.hostile.transactions} sets its length (default 300).
 */
class HostileValuesIT {
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
          .build();

  /** Written after the workload: once its key is in Redis, every change before it is applied. */
  private static final UUID MARKER = new UUID(-1, -1);

  private static final String VERSION = new Version(1, 8).text();

  private static final String[] SCHEMA = {
    "CREATE TABLE t_text (id text PRIMARY KEY, name text, doc jsonb)",
    "CREATE TABLE t_pair (org text, id bigint, name text, doc jsonb, PRIMARY KEY (org, id))",
    "CREATE TABLE t_uuid (id uuid PRIMARY KEY, name text)",
    "CREATE TABLE t_blob (code text, blob bytea, name text, PRIMARY KEY (code, blob))",
    "CREATE TABLE t_num (amount numeric(20,3) PRIMARY KEY, name text)",
  };

  /** Five prefixes that differ only at their fifth character, three holding glob characters. */
  private static final String MAPPING =
      """
      tables:
        - table: public.t_text
          key: "user:{id}"
        - table: public.t_pair
          key: "users:{org}:{id}"
          format: json
        - table: public.t_uuid
          key: 'user\\*[:{id}'
          format: json
        - table: public.t_blob
          key: "user{{x}}:{code}|{blob}"
        - table: public.t_num
          key: "user.{amount}?"
      """;

  /**
   * Each table's keys and values as SQL computes them, independently of cachesync: the key as the
   * template's text around each column's text (bytea in base64), rows whose key cannot be rendered
   * left out (an empty value, or a separator inside a value that literal text follows); the value
   * as JSON, a hash as an object of its fields (NULL columns left out).
   */
  private record Oracle(String table, boolean hash, String sql) {}

  private static final List<Oracle> ORACLES =
      List.of(
          new Oracle(
              "t_text",
              true,
              "SELECT 'user:' || id, json_strip_nulls(json_build_object('id', id, 'name', name,"
                  + " 'doc', doc::text)) FROM t_text WHERE id <> ''"),
          new Oracle(
              "t_pair",
              false,
              "SELECT 'users:' || org || ':' || id, json_build_object('org', org, 'id', id, 'name',"
                  + " name, 'doc', doc) FROM t_pair WHERE org <> '' AND strpos(org, ':') = 0"),
          new Oracle(
              "t_uuid",
              false,
              "SELECT 'user\\*[:' || id, json_build_object('id', id, 'name', name) FROM t_uuid"),
          new Oracle(
              "t_blob",
              true,
              "SELECT 'user{x}:' || code || '|' || encode(blob, 'base64'),"
                  + " json_strip_nulls(json_build_object('code', code, 'blob', encode(blob,"
                  + " 'base64'), 'name', name)) FROM t_blob"
                  + " WHERE code <> '' AND strpos(code, '|') = 0 AND length(blob) > 0"),
          new Oracle(
              "t_num",
              true,
              "SELECT 'user.' || amount || '?', json_strip_nulls(json_build_object('amount',"
                  + " amount::text, 'name', name)) FROM t_num"));

  private SyncHarness harness;
  private StatefulRedisConnection<byte[], byte[]> binaryConnection;
  private RedisClient binaryClient;
  private RedisCommands<byte[], byte[]> binary;

  /**
   * The application's keys that no template reads (ISO-8859-1 strings of their bytes) and their
   * DUMP: they must never change.
   */
  private final Map<String, byte[]> foreign = new LinkedHashMap<>();

  /**
   * The application's keys that a table's template reads (ISO-8859-1 strings of their bytes), no
   * row of which exists, and their DUMP: the table's keys, of no row.
   */
  private final Map<String, byte[]> claimed = new LinkedHashMap<>();

  /** Whether a claimed key may still be in Redis as planted: no sweep ran since it was planted. */
  private boolean claimedMayStay = true;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("hostile");
    binaryClient = RedisClient.create(harness.redisServer.uri());
    binaryConnection = binaryClient.connect(ByteArrayCodec.INSTANCE);
    binary = binaryConnection.sync();
  }

  @AfterEach
  void tearDown() {
    binaryConnection.close();
    binaryClient.shutdown();
    harness.close();
  }

  @Test
  void hostileValues_streamedTruncatedVerifiedResynced_touchOnlyTheirOwnTablesKeys()
      throws Exception {
    long seed = Long.getLong("cachesync.seed", new SecureRandom().nextLong());
    System.out.println("HostileValuesIT seed=" + seed);
    int transactions = Integer.getInteger("cachesync.hostile.transactions", 300);
    long started = System.nanoTime();
    harness.sql(SCHEMA);
    Workload workload = new Workload(new Random(seed));
    String phase = "streaming";
    try (Connection connection = harness.postgres.connect(harness.database)) {
      workload.populate(connection, 60);
      plantForeignKeys();
      harness.start(MAPPING);
      workload.run(connection, transactions);
      harness.sql("INSERT INTO t_uuid VALUES ('" + MARKER + "', 'marker')");
      await("the marker row in Redis")
          .atMost(WAIT)
          .failFast("the daemon failed", () -> harness.daemon().state() == Daemon.State.FAILED)
          .until(() -> harness.redis.redis().exists("user\\*[:" + MARKER) == 1);
      awaitRedisMatches(seed, phase);

      phase = "verify";
      plantOrphans();
      plantClaimedKeys();
      CommandRun verify = cachesync("verify");
      assertThat(verify.exitCode()).as(seed + ": " + verify.output()).isEqualTo(ExitCode.DRIFT);
      assertThat(verify.out())
          .as("seed=%d: verify names the keys of no row, whatever they hold", seed)
          .contains("users:FOREIGN:1: orphan (no row)")
          .contains("user\\*[:FOREIGN: orphan (no row)")
          .contains("user.FOREIGN?: orphan (no row)");
      for (String name : foreign.keySet()) {
        assertThat(verify.out())
            .as("seed=%d: verify never names a key no template reads", seed)
            .doesNotContain("  " + DisplayText.of(name) + ": ");
      }
      assertThat(verify.out().chars().filter(c -> c < 0x20 && c != '\n').count())
          .as("seed=%d: verify prints no control character of a key: %s", seed, verify.out())
          .isZero();
      assertThat(verify.out()).doesNotContain("\u2028").doesNotContain("\u202E");
      assertRedisMatches(seed, "verify (which changes nothing)", true);

      phase = "verify --repair";
      claimedMayStay = false;
      CommandRun repair = cachesync("verify", "--repair");
      assertThat(repair.exitCode()).as(seed + ": " + repair.output()).isEqualTo(ExitCode.OK);
      assertRedisMatches(seed, phase, false);

      phase = "resync";
      plantOrphans();
      plantClaimedKeys();
      CommandRun resync = cachesync("resync", "--quiet");
      assertThat(resync.exitCode()).as(seed + ": " + resync.output()).isEqualTo(ExitCode.OK);
      assertThat(resync.out())
          .contains((ORPHAN_KEYS.size() + claimed.size()) + " orphan keys removed");
      assertRedisMatches(seed, phase, false);

      phase = "TRUNCATE t_pair";
      plantClaimedKeys();
      claimedMayStay = true; // those of the other tables
      Map<String, byte[]> before = dumpAll();
      harness.sql("TRUNCATE t_pair");
      await("seed=" + seed + ": the TRUNCATE evicts the key its template reads, of no version")
          .atMost(WAIT)
          .until(() -> binary.exists(bytes("users:FOREIGN:1")) == 0);
      awaitRedisMatches(seed, phase);
      Map<String, byte[]> after = dumpAll();
      assertThat(after).as("not of users:{org}:{id}").containsKey("users:FOREIGN");
      before.keySet().removeIf(key -> key.startsWith("users:") && !foreign.containsKey(key));
      List<String> changed = new ArrayList<>();
      before.forEach(
          (key, dump) -> {
            if (!Arrays.equals(dump, after.get(key))) {
              changed.add((after.containsKey(key) ? "changed: " : "gone: ") + show(key));
            }
          });
      after.keySet().stream()
          .filter(key -> !before.containsKey(key))
          .forEach(key -> changed.add("new: " + show(key)));
      assertThat(changed)
          .withFailMessage(
              "seed=%d: the other tables' and the application's keys stay byte for byte:%n%s",
              seed, first(changed))
          .isEmpty();

      phase = "reload after a cache loss, and its orphan sweep";
      // What a Redis restarted without its state leaves, with the application's keys kept: the
      // next start reloads every table, then sweeps the keys of rows deleted meanwhile.
      harness.stopDaemon();
      workload.run(connection, 30);
      plantOrphans();
      plantClaimedKeys();
      claimedMayStay = false;
      List<String> state = harness.redis.keys("cachesync:" + SyncHarness.NAME + ":*");
      harness.redis.redis().del(state.toArray(String[]::new));
      harness.start(MAPPING);
      assertThat(harness.daemon().loadsEverything()).as("a reload").isTrue();
      awaitRedisMatches(seed, phase);
    } finally {
      System.out.println(
          String.format(
              "HostileValuesIT seed=%d, %d transactions, %d statements (%d truncates, %d refused"
                  + " by PostgreSQL), %d foreign and %d claimed keys, reached phase '%s', %d s",
              seed,
              workload.transactions,
              workload.statements,
              workload.truncates,
              workload.refused,
              foreign.size(),
              claimed.size(),
              phase,
              Duration.ofNanos(System.nanoTime() - started).toSeconds()));
    }
  }

  @Test
  void outOfLineKeyValue_updateOfAnotherColumn_keepsTheRowAtItsKey() throws Exception {
    harness.sql(SCHEMA);
    // 2,300 characters that do not compress: the primary key's index takes them, the row stores
    // them out of line, and an UPDATE that leaves them alone sends them as an unchanged value.
    Random random = new Random(7);
    StringBuilder noise = new StringBuilder("\u202E*?[\n");
    while (noise.length() < 2_300) {
      noise.append((char) ('!' + random.nextInt(94)));
    }
    String id = noise.toString();
    try (Connection connection = harness.postgres.connect(harness.database);
        PreparedStatement insert =
            connection.prepareStatement("INSERT INTO t_text VALUES (?, 'before', '{\"a\": 1}')")) {
      insert.setString(1, id);
      insert.executeUpdate();
    }
    harness.start(MAPPING);
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.hash("user:" + id)).containsEntry("name", "before"));
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet toast =
            statement.executeQuery(
                "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 't_text'")) {
      toast.next();
      assertThat(toast.getLong(1)).as("the key value is stored out of line").isPositive();
    }

    try (Connection connection = harness.postgres.connect(harness.database);
        PreparedStatement update =
            connection.prepareStatement("UPDATE t_text SET name = 'after' WHERE id = ?")) {
      update.setString(1, id);
      update.executeUpdate();
    }

    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.hash("user:" + id))
                    .isEqualTo(Map.of("id", id, "name", "after", "doc", "{\"a\": 1}")));
    assertThat(harness.daemon().synchronizer().counts().failed()).isZero();
  }

  private CommandRun cachesync(String... arguments) {
    List<String> all = new ArrayList<>(List.of(arguments));
    all.add(1, "--config");
    all.add(2, harness.config(MAPPING).toString());
    return CommandRun.of(all.toArray(String[]::new));
  }

  // ---------------------------------------------------------------------------------------------
  // The application's keys, and cachesync's orphans

  /**
   * Keys the application keeps. Foreign ones, which no template reads: under the tables' prefixes,
   * lookalikes an unescaped glob would match, one whose name is not UTF-8 (cachesync cannot even
   * name it). None may ever change. Claimed ones, which a template reads though they carry no
   * version of cachesync's, some of another type than the table's, one holding a NUL byte: keys of
   * their table, of no row.
   */
  private void plantForeignKeys() {
    // Claimed: user:{id} (text id), users:{org}:{id}, user\*[:{id}, user{x}:{code}|{blob},
    // user.{amount}? read them.
    foreignHash("user:session:x", Map.of("name", "the application's session"));
    foreignString("user:FOREIGN", "matches user:{id}, but carries no version");
    foreignHash("users:FOREIGN:1", Map.of("org", "FOREIGN", "id", "1"));
    foreignString("user\\*[:FOREIGN", "matches user\\*[:{id}, not a uuid");
    foreignHash("user{x}:FOREIGN|AAAA", Map.of("code", "FOREIGN", "blob", "AAAA"));
    binary.sadd(bytes("user.FOREIGN?"), bytes("a set"));
    foreignString("user:FOREIGN\n\u202E*?[\u0001", "control and glob characters");
    binary.set(concat(bytes("user:FOREIGN"), new byte[] {0, 1}), bytes("a NUL byte"));
    Set<String> claimedNames = new LinkedHashSet<>();
    for (byte[] key : scanAll()) {
      claimedNames.add(latin1(key));
    }
    // Foreign: no template reads them.
    foreignString("user:", "the bare prefix");
    foreignString("user", "shorter than every prefix");
    foreignString("users:FOREIGN", "under users: but not of users:{org}:{id}");
    foreignString("user*[:1", "matches the prefix's glob were it not escaped");
    foreignString("user\\:1", "matches user\\*[: were * a glob");
    foreignString("user[x]:1", "a bracket pattern's lookalike");
    binary.rpush(bytes("user{x}:FOREIGN"), bytes("a list"));
    binary.zadd(bytes("user.1?extra"), 1.0, bytes("a sorted set"));
    foreignString("userX:1", "x");
    foreignString("user1:1", "x");
    foreignString("USER:1", "x");
    foreignString("user :1", "x");
    // Not UTF-8, with what looks like cachesync's version: cachesync reads every name as UTF-8,
    // so it cannot even name this key; it must never delete it.
    binary.hset(
        concat(bytes("user:"), new byte[] {(byte) 0xff, (byte) 0xfe}),
        Map.of(bytes("__v"), bytes(VERSION), bytes("id"), bytes("x")));
    for (byte[] key : scanAll()) {
      (claimedNames.contains(latin1(key)) ? claimed : foreign).put(latin1(key), binary.dump(key));
    }
    assertThat(claimed).hasSize(8);
  }

  /** The claimed keys again, as first planted. */
  private void plantClaimedKeys() {
    claimed.forEach(
        (name, dump) ->
            binary.restore(
                name.getBytes(StandardCharsets.ISO_8859_1),
                dump,
                RestoreArgs.Builder.ttl(0).replace()));
  }

  private void foreignString(String key, String value) {
    binary.set(bytes(key), bytes(value));
  }

  private void foreignHash(String key, Map<String, String> fields) {
    Map<byte[], byte[]> encoded = new LinkedHashMap<>();
    fields.forEach((field, value) -> encoded.put(bytes(field), bytes(value)));
    binary.hset(bytes(key), encoded);
  }

  /** Keys cachesync wrote, of no row (json in the json tables, hashes in the others). */
  private static final List<String> ORPHAN_KEYS =
      List.of(
          "user:ORPHAN",
          "user:ORPHAN\n\u202E\u2028\u0001*",
          "users:ORPHAN:7",
          "users:ORPHAN",
          "user\\*[:00000000-0000-0000-0000-00000000000f",
          "user{x}:ORPHAN|AA==",
          "user.ORPHAN?");

  /**
   * Keys cachesync wrote (they carry its version) for rows that do not exist, or under an earlier
   * template: every sweep must remove them.
   */
  private void plantOrphans() {
    RedisCommands<String, String> redis = harness.redis.redis();
    for (String key : ORPHAN_KEYS) {
      String id = key.substring(key.indexOf(':') + 1);
      if (key.startsWith("users:") || key.startsWith("user\\*[:")) {
        redis.set(key, "{\"__v\":\"" + VERSION + "\",\"id\":" + JSON.valueToTree(id) + "}");
      } else {
        redis.hset(key, Map.of("__v", VERSION, "id", id));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The comparison

  private void awaitRedisMatches(long seed, String phase) {
    AtomicReference<List<String>> last = new AtomicReference<>(List.of());
    await(phase + ": Redis to match PostgreSQL")
        .atMost(WAIT)
        .pollInterval(Duration.ofSeconds(1))
        .failFast("the daemon failed", () -> harness.daemon().state() == Daemon.State.FAILED)
        .untilAsserted(
            () -> {
              last.set(problems());
              assertThat(last.get())
                  .withFailMessage(
                      "seed=%d, %s: %d problems, the first:%n%s",
                      seed, phase, last.get().size(), first(last.get()))
                  .isEmpty();
            });
  }

  /** Checked once: after a command, Redis must already hold its outcome. */
  private void assertRedisMatches(long seed, String phase, boolean orphansPlanted)
      throws Exception {
    List<String> problems = problems();
    if (orphansPlanted) {
      for (String orphan : ORPHAN_KEYS) {
        problems.removeIf(problem -> problem.startsWith("a key of no row: " + show(orphan)));
      }
    }
    assertThat(problems)
        .withFailMessage(
            "seed=%d, %s: %d problems, the first:%n%s",
            seed, phase, problems.size(), first(problems))
        .isEmpty();
  }

  private static String first(List<String> problems) {
    return problems.stream().limit(20).map(p -> "  " + p).collect(Collectors.joining("\n"));
  }

  /**
   * Everything that is wrong: a foreign key changed or gone, a key that is neither foreign nor the
   * key of an existing row, a row's key missing or holding another value.
   */
  private List<String> problems() throws SQLException {
    List<String> problems = new ArrayList<>();
    Map<String, Expected> expected = expected(problems);
    Set<String> seen = new LinkedHashSet<>();
    for (byte[] key : scanAll()) {
      String name = latin1(key);
      if (claimedMayStay
          && claimed.containsKey(name)
          && Arrays.equals(claimed.get(name), binary.dump(key))) {
        continue; // no sweep nor TRUNCATE of its table since it was planted
      }
      if (foreign.containsKey(name)) {
        if (!Arrays.equals(foreign.get(name), binary.dump(key))) {
          problems.add("the application's key " + show(name) + " was changed");
        }
        seen.add(name);
        continue;
      }
      String text;
      try {
        text =
            StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(key))
                .toString();
      } catch (CharacterCodingException e) {
        problems.add("a key that is not UTF-8 and not the application's: " + show(name));
        continue;
      }
      Expected row = expected.remove(text);
      if (row == null) {
        problems.add("a key of no row: " + show(text) + " = " + cached(key, null));
        continue;
      }
      String difference = difference(key, row);
      if (difference != null) {
        problems.add(show(text) + " (" + row.table() + "): " + difference);
      }
    }
    foreign.keySet().stream()
        .filter(name -> !seen.contains(name))
        .forEach(name -> problems.add("the application's key " + show(name) + " was deleted"));
    expected.forEach(
        (key, row) -> problems.add("missing: " + show(key) + " (" + row.table() + ")"));
    return problems;
  }

  private record Expected(String table, boolean hash, JsonNode value) {}

  /** Every row's key and value as SQL computes them; a key two rows would share is a problem. */
  private Map<String, Expected> expected(List<String> problems) throws SQLException {
    Map<String, Expected> expected = new HashMap<>();
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement()) {
      for (Oracle oracle : ORACLES) {
        try (ResultSet rows = statement.executeQuery(oracle.sql())) {
          while (rows.next()) {
            Expected row = new Expected(oracle.table(), oracle.hash(), readJson(rows.getString(2)));
            Expected other = expected.put(rows.getString(1), row);
            if (other != null) {
              problems.add(
                  "two rows share the key "
                      + show(rows.getString(1))
                      + ": of "
                      + other.table()
                      + " and "
                      + oracle.table());
            }
          }
        }
      }
    }
    return expected;
  }

  /** How the value at {@code key} differs from the row's, or null when it does not. */
  private String difference(byte[] key, Expected row) {
    String type = binary.type(key);
    String expectedType = row.hash() ? "hash" : "string";
    if (!type.equals(expectedType)) {
      return "a " + type + " where a " + expectedType + " belongs";
    }
    JsonNode actual = cached(key, row);
    if (actual == null) {
      return "no version, or not JSON: " + show(utf8(binary.get(key)));
    }
    return actual.equals(row.value())
        ? null
        : "expected " + show(row.value().toString()) + ", actual " + show(actual.toString());
  }

  /**
   * The value at {@code key} without its version, as JSON (a hash as an object of its fields); null
   * when it has no version where cachesync puts it.
   */
  private JsonNode cached(byte[] key, Expected row) {
    String type = binary.type(key);
    if (type.equals("hash")) {
      ObjectNode fields = JSON.createObjectNode();
      binary.hgetall(key).forEach((field, value) -> fields.put(utf8(field), utf8(value)));
      JsonNode version = fields.remove("__v");
      return version != null && version.asText().matches("[0-9a-f]{32}") ? fields : null;
    }
    if (type.equals("string")) {
      String text = utf8(binary.get(key));
      if (!text.startsWith("{\"__v\":\"")) {
        return null;
      }
      JsonNode value = readJson(text);
      if (value instanceof ObjectNode object) {
        object.remove("__v");
      }
      return value;
    }
    return row == null ? JSON.getNodeFactory().textNode("<a " + type + ">") : null;
  }

  private static JsonNode readJson(String text) {
    try {
      return JSON.readTree(text);
    } catch (java.io.IOException e) {
      return JSON.getNodeFactory().textNode("<not JSON: " + e.getMessage() + ">");
    }
  }

  private List<byte[]> scanAll() {
    List<byte[]> keys = new ArrayList<>();
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<byte[]> page = binary.scan(cursor, ScanArgs.Builder.limit(1000));
      for (byte[] key : page.getKeys()) {
        if (!latin1(key).startsWith("cachesync:")) {
          keys.add(key);
        }
      }
      cursor = page;
    } while (!cursor.isFinished());
    return keys;
  }

  /** Every key but cachesync's state, with its DUMP. */
  private Map<String, byte[]> dumpAll() {
    Map<String, byte[]> dumps = new TreeMap<>();
    for (byte[] key : scanAll()) {
      dumps.put(latin1(key), binary.dump(key));
    }
    return dumps;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String utf8(byte[] bytes) {
    return bytes == null ? "<none>" : new String(bytes, StandardCharsets.UTF_8);
  }

  private static String latin1(byte[] bytes) {
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  private static byte[] concat(byte[] first, byte[] second) {
    byte[] all = Arrays.copyOf(first, first.length + second.length);
    System.arraycopy(second, 0, all, first.length, second.length);
    return all;
  }

  /** A key or value for a failure message: control characters escaped, long ones cut. */
  static String show(String text) {
    StringBuilder shown = new StringBuilder();
    text.codePoints()
        .limit(120)
        .forEach(
            c -> {
              if (c < 0x20
                  || c == 0x7f
                  || (c >= 0x80 && c < 0xa0)
                  || c == 0x2028
                  || c == 0x2029
                  || c == 0x202e
                  || c == 0xfeff) {
                shown.append(String.format("\\u%04x", c));
              } else {
                shown.appendCodePoint(c);
              }
            });
    int length = text.codePointCount(0, text.length());
    return "'" + shown + (length > 120 ? "...' (" + length + " characters)" : "'");
  }

  // ---------------------------------------------------------------------------------------------
  // The workload

  /**
   * Pieces hostile values are built from. None spells FOREIGN or ORPHAN, so no row can take an
   * application's key or a planted orphan's.
   */
  static final List<String> PIECES =
      List.of(
          "*",
          "?",
          "[",
          "]",
          "\\",
          "[a-z]",
          "\\*",
          "{",
          "}",
          "{id}",
          "{{",
          "}}",
          ":",
          "::",
          "|",
          ".",
          "user:",
          "users:",
          "\\*[:",
          "user{x}:",
          "a",
          "b",
          "1",
          "42",
          " ",
          "\n",
          "\r\n",
          "\t",
          "\u0001",
          "\u001b[31m",
          "\u007f",
          "\u0085",
          "\uD83D\uDE00",
          "\uD834\uDD1E",
          "e\u0301",
          "\u05D0\u05D1\u05D2",
          "\u0627\u0644",
          "\u202E",
          "\u2066",
          "\u2028",
          "\u2029",
          "\uFEFF",
          "\u200B",
          "\u00A0",
          "é",
          "日本",
          "\"",
          "'",
          "%s",
          "${x}",
          "{\"__v\":\"0\"}",
          "__v",
          "session");

  /** The seeded generator of rows and transactions. */
  final class Workload {
    private final Random random;
    private final List<Table> tables;
    int transactions;
    int statements;
    int truncates;
    int refused;

    Workload(Random random) {
      this.random = random;
      List<String> orgs = distinct(8, () -> random.nextInt(4) == 0 ? text(2) + ":" : text(2));
      orgs.set(0, "");
      List<String> codes = distinct(8, () -> random.nextInt(4) == 0 ? text(2) + "|" : text(2));
      codes.set(0, "");
      List<Long> ids = List.of(-1L, 0L, 1L, 42L, Long.MAX_VALUE, Long.MIN_VALUE);
      this.tables =
          List.of(
              new Table("t_text", List.of("id"), true, distinct(40, this::textKey, List::of)),
              new Table(
                  "t_pair",
                  List.of("org", "id"),
                  true,
                  distinct(30, () -> List.of(pick(orgs), pick(ids)), list -> list)),
              new Table(
                  "t_uuid",
                  List.of("id"),
                  false,
                  distinct(20, () -> new UUID(random.nextLong(), random.nextLong()), List::of)),
              new Table(
                  "t_blob",
                  List.of("code", "blob"),
                  false,
                  distinct(30, () -> List.of(pick(codes), blob()), list -> list)),
              new Table(
                  "t_num",
                  List.of("amount"),
                  false,
                  distinct(
                      20,
                      () ->
                          random.nextInt(10) == 0
                              ? new BigDecimal("99999999999999999.999").negate()
                              : BigDecimal.valueOf(random.nextInt(2_000_000) - 1_000_000, 3),
                      List::of)));
    }

    /** Inserts up to {@code rows} rows into each table. */
    void populate(Connection connection, int rows) throws SQLException {
      connection.setAutoCommit(true);
      for (Table table : tables) {
        for (int i = 0; i < rows; i++) {
          insert(connection, table);
        }
      }
    }

    void run(Connection connection, int count) throws SQLException {
      connection.setAutoCommit(false);
      for (int i = 0; i < count; i++) {
        int operations = 1 + random.nextInt(3);
        for (int j = 0; j < operations; j++) {
          Table table = pick(tables);
          int dice = random.nextInt(200);
          if (dice == 0) {
            execute(connection, "TRUNCATE " + table.name());
            truncates++;
          } else if (dice < 70) {
            insert(connection, table);
          } else if (dice < 120) {
            updateValues(connection, table);
          } else if (dice < 150) {
            moveKey(connection, table);
          } else {
            delete(connection, table);
          }
        }
        connection.commit();
        transactions++;
      }
      connection.setAutoCommit(true);
    }

    private void insert(Connection connection, Table table) throws SQLException {
      List<Object> key = pick(table.keys());
      String columns = String.join(", ", table.keyColumns());
      String sql =
          "INSERT INTO "
              + table.name()
              + " ("
              + columns
              + ", name"
              + (table.hasDoc() ? ", doc" : "")
              + ") VALUES ("
              + "?, ".repeat(table.keyColumns().size())
              + "?"
              + (table.hasDoc() ? ", ?::jsonb" : "")
              + ") ON CONFLICT DO NOTHING";
      List<Object> arguments = new ArrayList<>(key);
      arguments.add(nullable(text(6)));
      if (table.hasDoc()) {
        arguments.add(nullable(document()));
      }
      update(connection, sql, arguments);
    }

    private void updateValues(Connection connection, Table table) throws SQLException {
      // Often the name alone: an UPDATE that leaves an out-of-line key value alone sends it as an
      // unchanged TOAST value.
      boolean doc = table.hasDoc() && random.nextBoolean();
      String sql =
          "UPDATE "
              + table.name()
              + " SET name = ?"
              + (doc ? ", doc = ?::jsonb" : "")
              + " WHERE "
              + where(table);
      List<Object> arguments = new ArrayList<>();
      arguments.add(nullable(text(6)));
      if (doc) {
        arguments.add(nullable(document()));
      }
      arguments.addAll(pick(table.keys()));
      update(connection, sql, arguments);
    }

    private void moveKey(Connection connection, Table table) throws SQLException {
      List<Object> from = pick(table.keys());
      List<Object> to = pick(table.keys());
      String set =
          table.keyColumns().stream().map(c -> c + " = ?").collect(Collectors.joining(", "));
      String sql =
          "UPDATE "
              + table.name()
              + " SET "
              + set
              + " WHERE "
              + where(table)
              + " AND NOT EXISTS (SELECT 1 FROM "
              + table.name()
              + " WHERE "
              + where(table)
              + ")";
      List<Object> arguments = new ArrayList<>(to);
      arguments.addAll(from);
      arguments.addAll(to);
      update(connection, sql, arguments);
    }

    private void delete(Connection connection, Table table) throws SQLException {
      update(
          connection,
          "DELETE FROM " + table.name() + " WHERE " + where(table),
          new ArrayList<>(pick(table.keys())));
    }

    private String where(Table table) {
      return table.keyColumns().stream().map(c -> c + " = ?").collect(Collectors.joining(" AND "));
    }

    private void update(Connection connection, String sql, List<Object> arguments)
        throws SQLException {
      statements++;
      boolean autoCommit = connection.getAutoCommit();
      java.sql.Savepoint savepoint = autoCommit ? null : connection.setSavepoint();
      try (PreparedStatement statement = connection.prepareStatement(sql)) {
        for (int i = 0; i < arguments.size(); i++) {
          Object argument = arguments.get(i);
          if (argument instanceof byte[] bytes) {
            statement.setBytes(i + 1, bytes);
          } else {
            statement.setObject(i + 1, argument);
          }
        }
        statement.executeUpdate();
      } catch (SQLException e) {
        // A value PostgreSQL refuses (an index entry too large, say): the statement is undone.
        refused++;
        if (savepoint != null) {
          connection.rollback(savepoint);
        }
        if (refused > 50) {
          throw e;
        }
      }
    }

    private void execute(Connection connection, String sql) throws SQLException {
      statements++;
      try (Statement statement = connection.createStatement()) {
        statement.execute(sql);
      }
    }

    /**
     * A text key value: mostly a few hostile pieces; sometimes 100 KB (compressible, so that the
     * primary key's index takes it), sometimes 2,300 random characters (stored out of line: an
     * UPDATE leaving it alone sends it as an unchanged TOAST value).
     */
    private String textKey() {
      int dice = random.nextInt(20);
      if (dice == 0) {
        String chunk = text(5);
        int bytes = chunk.getBytes(StandardCharsets.UTF_8).length;
        return chunk.repeat(100_000 / bytes + 1) + text(1);
      }
      if (dice == 1) {
        StringBuilder noise = new StringBuilder();
        while (noise.length() < 2_300) {
          noise.append((char) ('!' + random.nextInt(94)));
        }
        return noise + text(2);
      }
      return dice == 2 ? "" : text(4);
    }

    String text(int maxPieces) {
      StringBuilder text = new StringBuilder();
      int pieces = 1 + random.nextInt(maxPieces);
      for (int i = 0; i < pieces; i++) {
        text.append(pick(PIECES));
      }
      return text.toString();
    }

    private byte[] blob() {
      byte[] bytes = new byte[random.nextInt(8) == 0 ? 0 : 1 + random.nextInt(40)];
      random.nextBytes(bytes);
      return bytes;
    }

    /** A JSON document whose member names and strings are hostile. */
    private String document() {
      ObjectNode document = JSON.createObjectNode();
      int members = random.nextInt(4);
      for (int i = 0; i < members; i++) {
        switch (random.nextInt(4)) {
          case 0 -> document.put(text(2), text(4));
          case 1 -> document.put(text(2), new BigDecimal(random.nextInt(10_000)).movePointLeft(2));
          case 2 -> {
            ArrayNode array = document.putArray(text(2));
            array.add(text(3)).addNull().add(random.nextBoolean());
          }
          default -> document.putObject(text(2)).put("__v", text(2));
        }
      }
      return document.toString();
    }

    private Object nullable(Object value) {
      return random.nextInt(10) == 0 ? null : value;
    }

    private <T> T pick(List<T> list) {
      return list.get(random.nextInt(list.size()));
    }

    private <T> List<T> distinct(int count, Supplier<T> next) {
      Set<T> values = new LinkedHashSet<>();
      for (int i = 0; i < count * 10 && values.size() < count; i++) {
        values.add(next.get());
      }
      return new ArrayList<>(values);
    }

    private <T> List<List<Object>> distinct(
        int count, Supplier<T> next, java.util.function.Function<T, List<?>> key) {
      Map<String, List<Object>> keys = new LinkedHashMap<>();
      for (int i = 0; i < count * 10 && keys.size() < count; i++) {
        List<Object> values = new ArrayList<>(key.apply(next.get()));
        keys.putIfAbsent(identity(values), values);
      }
      return new ArrayList<>(keys.values());
    }

    private String identity(List<Object> values) {
      return values.stream()
          .map(v -> v instanceof byte[] bytes ? Arrays.toString(bytes) : String.valueOf(v))
          .collect(Collectors.joining("\u0000"));
    }
  }

  /** A table of the workload and the key values its rows take. */
  private record Table(
      String name, List<String> keyColumns, boolean hasDoc, List<List<Object>> keys) {}
}
