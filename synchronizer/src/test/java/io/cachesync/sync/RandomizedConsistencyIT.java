package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.cachesync.Daemon;
import io.cachesync.testing.SyncHarness;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PGobject;

/**
 * The randomized consistency test (DESIGN.md, Testing): a seeded generator of transactions runs
 * against PostgreSQL while the daemon streams, starting during its initial snapshot; once the
 * daemon has caught up, every mapped row is compared with Redis and every key with PostgreSQL
 * (invariant 1).
 *
 * <p>System properties: {@code cachesync.seed} replays a run (the same seed runs the same
 * statements), {@code cachesync.transactions} sets its length (default 10000), {@code
 * cachesync.trace=FILE} writes every statement to FILE.
 *
 * <p>The generator tracks the documents moved to a new key by a primary-key change that left their
 * out-of-line (TOASTed) body alone: PostgreSQL then sends the body as an unchanged TOAST value, and
 * the new value takes it from the old key's cached one. The summary says how many there were, so a
 * run shows that this path was exercised. (It found the bug where such documents went missing.)
 */
class RandomizedConsistencyIT {
  static final Duration CATCH_UP = Duration.ofMinutes(2);
  static final Duration SETTLE = Duration.ofSeconds(15);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The bounded key spaces, so that keys are deleted and used again. */
  private static final int USER_IDS = 300;

  private static final int ORDERS = 60;
  private static final int LINES_PER_ORDER = 8;
  private static final int DOCUMENT_IDS = 120;

  /** The last transaction's row: once its key is in Redis, everything before it is applied. */
  static final long MARKER_ID = 1_000_000;

  static final String[] SCHEMA = {
    "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text, score numeric(10,2),"
        + " active boolean, updated_at timestamptz)",
    "CREATE TABLE order_lines (order_id bigint, line_no int, sku text, qty int,"
        + " PRIMARY KEY (order_id, line_no))",
    "CREATE TABLE documents (id bigint PRIMARY KEY, title text, body text, tags text[], meta jsonb)",
    // The default, stated: an UPDATE that leaves a TOASTed body alone does not send it.
    "ALTER TABLE users REPLICA IDENTITY DEFAULT",
    "ALTER TABLE order_lines REPLICA IDENTITY DEFAULT",
    "ALTER TABLE documents REPLICA IDENTITY DEFAULT"
  };

  static final String MAPPING =
      """
      tables:
        - table: public.users
          key: "user:{id}"
          format: hash
        - table: public.order_lines
          key: "line:{order_id}:{line_no}"
          format: hash
        - table: public.documents
          key: "doc:{id}"
          format: json
      """;

  /**
   * A mapped table as the comparison sees it.
   *
   * @param expected a query of each row's key and its projection in the value encoding, as JSON: a
   *     hash as an object of its fields (NULL columns left out), a json value as itself
   */
  private record MappedTable(String keyPrefix, String redisType, String expected) {}

  private static final String UTC_MICROS =
      "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

  private static final List<MappedTable> TABLES =
      List.of(
          new MappedTable(
              "user:",
              "hash",
              "SELECT 'user:' || id, json_strip_nulls(json_build_object('id', id::text, 'name',"
                  + " name, 'email', email, 'score', score::text, 'active', active::text,"
                  + " 'updated_at', "
                  + UTC_MICROS
                  + ")) FROM users"),
          new MappedTable(
              "line:",
              "hash",
              "SELECT 'line:' || order_id || ':' || line_no, json_strip_nulls(json_build_object("
                  + "'order_id', order_id::text, 'line_no', line_no::text, 'sku', sku,"
                  + " 'qty', qty::text)) FROM order_lines"),
          new MappedTable(
              "doc:",
              "string",
              "SELECT 'doc:' || id, json_build_object('id', id, 'title', title, 'body', body,"
                  + " 'tags', tags, 'meta', meta) FROM documents"));

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("randomized");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void randomTransactions_afterCatchUp_redisHoldsEveryRowAndNoOtherKey() throws Exception {
    long seed = Long.getLong("cachesync.seed", new SecureRandom().nextLong());
    System.out.println("seed=" + seed);
    int transactions = Integer.getInteger("cachesync.transactions", 10_000);
    long started = System.nanoTime();
    harness.sql(SCHEMA);
    Connection connection = harness.postgres.connect(harness.database);
    Workload workload = new Workload(connection, new Random(seed), trace());
    try (connection) {
      workload.populate();
      assertThat(toastBytes()).as("the documents' bodies are stored out of line").isPositive();
      harness.start(MAPPING);
      workload.run(transactions);
    } finally {
      workload.trace.close();
    }
    harness.sql("INSERT INTO users (id, name) VALUES (" + MARKER_ID + ", 'marker')");

    await("the marker row in Redis")
        .atMost(CATCH_UP)
        .failFast("the daemon failed", () -> harness.daemon().state() == Daemon.State.FAILED)
        .until(() -> harness.redis.redis().exists("user:" + MARKER_ID) == 1);
    AtomicReference<Comparison> last = new AtomicReference<>();
    try {
      await("Redis to match PostgreSQL")
          .atMost(SETTLE)
          .pollInterval(Duration.ofSeconds(1))
          .untilAsserted(
              () -> {
                last.set(compare(harness));
                assertThat(last.get().divergences())
                    .withFailMessage(
                        "seed=%d: %d divergent keys, the first:%n%s",
                        seed, last.get().divergences().size(), last.get().first(20))
                    .isEmpty();
              });
    } finally {
      System.out.println(summary(seed, workload, last.get(), System.nanoTime() - started));
    }
  }

  private long toastBytes() throws SQLException {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement();
        ResultSet size =
            statement.executeQuery(
                "SELECT pg_relation_size(reltoastrelid) FROM pg_class"
                    + " WHERE oid = 'documents'::regclass")) {
      size.next();
      return size.getLong(1);
    }
  }

  /** Where {@code cachesync.trace} says to write every statement; nowhere without it. */
  static PrintStream trace() throws IOException {
    String file = System.getProperty("cachesync.trace");
    return file == null
        ? new PrintStream(PrintStream.nullOutputStream())
        : new PrintStream(file, StandardCharsets.UTF_8);
  }

  /** One line: what ran, what diverged, how long it took, and the synchronizer's counts. */
  private String summary(long seed, Workload workload, Comparison comparison, long nanos) {
    Synchronizer.Counts counts = harness.daemon().synchronizer().counts();
    String outcome =
        comparison == null
            ? "no comparison"
            : String.format(
                "%d divergent keys (%d rows; %d documents moved to a new key keeping an out-of-line"
                    + " body)",
                comparison.divergences().size(),
                comparison.rows(),
                workload.documentsMovedKeepingTheirBody().size());
    return String.format(
        "seed=%d, %d transactions (%d rolled back, %d to a savepoint), %d statements (%d"
            + " truncates), %d tables, %s, %d s; synchronizer: %d changes, %d written, %d evicted,"
            + " %d stale, %d failed",
        seed,
        workload.transactions,
        workload.rolledBack,
        workload.rolledBackToSavepoint,
        workload.statements,
        workload.truncates,
        TABLES.size(),
        outcome,
        Duration.ofNanos(nanos).toSeconds(),
        counts.changes(),
        counts.written(),
        counts.evicted(),
        counts.stale(),
        counts.failed());
  }

  // ---------------------------------------------------------------------------------------------
  // The comparison, both ways

  /** A key whose value in Redis is not its row's projection; only the differing members shown. */
  record Divergence(String key, String expected, String actual) {
    @Override
    public String toString() {
      return key + ": expected " + expected + ", actual " + actual;
    }
  }

  record Comparison(int rows, List<Divergence> divergences) {
    String first(int count) {
      return divergences.stream()
          .limit(count)
          .map(d -> "  " + d)
          .collect(Collectors.joining(System.lineSeparator()));
    }
  }

  static Comparison compare(SyncHarness harness) throws SQLException, IOException {
    return compare(harness, harness.redis.redis());
  }

  /**
   * As {@link #compare(SyncHarness)}, reading Redis through {@code redis}: one master's commands,
   * or a Redis Cluster's, routed by key (and KEYS asked of every master).
   */
  static Comparison compare(SyncHarness harness, RedisClusterCommands<String, String> redis)
      throws SQLException, IOException {
    List<Divergence> divergences = new ArrayList<>();
    int rows = 0;
    try (Connection connection = harness.postgres.connect(harness.database)) {
      for (MappedTable table : TABLES) {
        Map<String, JsonNode> expected = expectedValues(connection, table);
        rows += expected.size();
        for (Map.Entry<String, JsonNode> row : expected.entrySet()) {
          JsonNode cached = cached(redis, table, row.getKey());
          if (!row.getValue().equals(cached)) {
            divergences.add(divergence(row.getKey(), row.getValue(), cached));
          }
        }
        for (String key : keysUnder(redis, table.keyPrefix())) {
          if (!expected.containsKey(key)) {
            divergences.add(
                new Divergence(key, "no key (no row)", show(cached(redis, table, key))));
          }
        }
      }
    }
    return new Comparison(rows, divergences);
  }

  private static Map<String, JsonNode> expectedValues(Connection connection, MappedTable table)
      throws SQLException, IOException {
    Map<String, JsonNode> values = new TreeMap<>();
    try (Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery(table.expected())) {
      while (rows.next()) {
        values.put(rows.getString(1), JSON.readTree(rows.getString(2)));
      }
    }
    return values;
  }

  /**
   * What Redis holds at {@code key} as JSON, without the reserved {@code __} members: a hash as an
   * object of its fields. Null when there is no key.
   */
  private static JsonNode cached(
      RedisClusterCommands<String, String> redis, MappedTable table, String key)
      throws IOException {
    String type = redis.type(key);
    if (type.equals("none")) {
      return null;
    }
    if (!type.equals(table.redisType())) {
      return TextNode.valueOf("<a Redis " + type + ">");
    }
    if (type.equals("hash")) {
      ObjectNode fields = JSON.createObjectNode();
      redis
          .hgetall(key)
          .forEach(
              (field, value) -> {
                if (!field.startsWith("__")) {
                  fields.put(field, value);
                }
              });
      return fields;
    }
    JsonNode value = JSON.readTree(redis.get(key));
    if (value instanceof ObjectNode object) {
      List<String> reserved = new ArrayList<>();
      object.fieldNames().forEachRemaining(reserved::add);
      reserved.removeIf(name -> !name.startsWith("__"));
      object.remove(reserved);
    }
    return value;
  }

  private static List<String> keysUnder(RedisClusterCommands<String, String> redis, String prefix) {
    if (redis instanceof io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands<?, ?>) {
      // KEYS on every master: the final comparison runs on a cluster that no longer changes.
      return redis.keys(prefix + "*").stream().sorted().toList();
    }
    Set<String> keys = new TreeSet<>();
    ScanArgs match = ScanArgs.Builder.matches(prefix + "*").limit(1_000);
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page = redis.scan(cursor, match);
      keys.addAll(page.getKeys());
      cursor = page;
    } while (!cursor.isFinished());
    return List.copyOf(keys);
  }

  private static Divergence divergence(String key, JsonNode expected, JsonNode actual) {
    if (actual == null) {
      return new Divergence(key, show(expected), "no key");
    }
    if (!expected.isObject() || !actual.isObject()) {
      return new Divergence(key, show(expected), show(actual));
    }
    Set<String> names = new TreeSet<>();
    expected.fieldNames().forEachRemaining(names::add);
    actual.fieldNames().forEachRemaining(names::add);
    StringJoiner expectedMembers = new StringJoiner(", ", "{", "}");
    StringJoiner actualMembers = new StringJoiner(", ", "{", "}");
    for (String name : names) {
      if (!Objects.equals(expected.get(name), actual.get(name))) {
        expectedMembers.add(name + "=" + show(expected.get(name)));
        actualMembers.add(name + "=" + show(actual.get(name)));
      }
    }
    return new Divergence(key, expectedMembers.toString(), actualMembers.toString());
  }

  private static String show(JsonNode node) {
    return node == null ? "<absent>" : abbreviate(node.toString());
  }

  private static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 60) + "...(" + text.length() + " chars)";
  }

  // ---------------------------------------------------------------------------------------------
  // The generator

  /** Keys as committed, as the open transaction sees them, and as they were at its savepoint. */
  private static final class TransactionalKeys {
    private TreeSet<Integer> committed = new TreeSet<>();
    private TreeSet<Integer> saved = new TreeSet<>();
    private TreeSet<Integer> open = new TreeSet<>();

    void begin() {
      open = new TreeSet<>(committed);
    }

    void commit() {
      committed = open;
    }

    void markSavepoint() {
      saved = new TreeSet<>(open);
    }

    void rollbackToSavepoint() {
      open = saved;
    }
  }

  /**
   * The seeded generator: random transactions from one connection. It tracks which keys exist, so
   * that every statement succeeds and the same seed replays the same statements.
   */
  static final class Workload {
    private static final String[] WORDS = {
      "Ada",
      "Grace Hopper",
      "Linus",
      "é",
      "Zoë",
      "日本語",
      "emoji 🙂",
      "tab\there",
      "new\nline",
      "quote \" and '",
      "back\\slash",
      "",
      " ",
      "NULL",
      "null",
      "{braces}",
      "a,b",
      "(x)",
      "user:1",
      "__v",
      "0",
      "-1",
      "1e3",
      "true",
      "%s"
    };
    private static final String BODY_ALPHABET =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /** Bodies this long are stored out of line (they do not compress); shorter ones are inline. */
    private static final int OUT_OF_LINE = 3_000;

    private Connection connection;
    private final Random random;
    private final PrintStream trace;
    private final Map<String, PreparedStatement> prepared = new HashMap<>();
    private final Users users = new Users();
    private final OrderLines orderLines = new OrderLines();
    private final Documents documents = new Documents();
    private final List<TableWorkload> tables = List.of(users, orderLines, documents);
    int transactions;
    int rolledBack;
    int rolledBackToSavepoint;
    int statements;
    int truncates;

    Workload(Connection connection, Random random, PrintStream trace) throws SQLException {
      this.connection = connection;
      this.random = random;
      this.trace = trace;
      connection.setAutoCommit(false);
    }

    /**
     * Goes on over a new connection (after a PostgreSQL restart). Call it between transactions: the
     * model of the keys assumes the last one ended with a commit or a rollback it saw.
     */
    void reconnect(Connection replacement) throws SQLException {
      connection = replacement;
      connection.setAutoCommit(false);
      prepared.clear();
    }

    /** The documents moved to a new key keeping an out-of-line body (see the class comment). */
    Set<String> documentsMovedKeepingTheirBody() {
      return documents.bodiless.committed.stream()
          .map(key -> "doc:" + documents.id(key))
          .collect(Collectors.toSet());
    }

    /** Fills each table half, in one committed transaction: the rows of the initial snapshot. */
    void populate() throws SQLException {
      tables.forEach(TableWorkload::begin);
      for (TableWorkload table : tables) {
        for (int i = 0; i < table.size / 2; i++) {
          table.insertAny();
        }
      }
      commit();
      statements = 0;
    }

    void run(int count) throws SQLException {
      for (int i = 0; i < count; i++) {
        transaction();
      }
    }

    /** 1-5 statements; rarely a TRUNCATE, sometimes a rollback to a savepoint, 5% rolled back. */
    private void transaction() throws SQLException {
      tables.forEach(TableWorkload::begin);
      int size = 1 + random.nextInt(5);
      int truncateAt = random.nextInt(500) == 0 ? random.nextInt(size) : -1;
      int savepointAt = size > 1 && random.nextInt(25) == 0 ? 1 + random.nextInt(size - 1) : -1;
      Savepoint savepoint = null;
      for (int i = 0; i < size; i++) {
        if (i == savepointAt) {
          savepoint = connection.setSavepoint();
          tables.forEach(TableWorkload::markSavepoint);
          trace.println(transactions + ": SAVEPOINT");
        }
        if (i == truncateAt) {
          anyTable().truncate();
        } else {
          anyTable().step();
        }
      }
      if (savepoint != null && random.nextBoolean()) {
        connection.rollback(savepoint);
        tables.forEach(TableWorkload::rollbackToSavepoint);
        rolledBackToSavepoint++;
        trace.println(transactions + ": ROLLBACK TO SAVEPOINT");
      }
      if (random.nextInt(20) == 0) {
        connection.rollback();
        rolledBack++;
        trace.println(transactions + ": ROLLBACK");
      } else {
        commit();
      }
      transactions++;
    }

    private void commit() throws SQLException {
      connection.commit();
      tables.forEach(TableWorkload::commit);
      trace.println(transactions + ": COMMIT");
    }

    private TableWorkload anyTable() {
      int choice = random.nextInt(100);
      return tables.get(choice < 40 ? 0 : choice < 75 ? 1 : 2);
    }

    private void execute(String sql, Object... parameters) throws SQLException {
      trace.println(
          transactions
              + ": "
              + sql
              + " "
              + Arrays.stream(parameters)
                  .map(p -> p == null ? "NULL" : abbreviate(p.toString()).replace("\n", "\\n"))
                  .collect(Collectors.joining(" | ", "[", "]")));
      PreparedStatement statement = prepared.get(sql);
      if (statement == null) {
        statement = connection.prepareStatement(sql);
        prepared.put(sql, statement);
      }
      for (int i = 0; i < parameters.length; i++) {
        statement.setObject(i + 1, parameters[i]);
      }
      try {
        statement.executeUpdate();
      } catch (SQLException e) {
        throw new IllegalStateException(
            "the generator's statement failed, its model of the keys is wrong: " + sql, e);
      }
      statements++;
    }

    /**
     * UPDATE {@code table} SET each of {@code values} WHERE {@code where}, bound to {@code key}.
     */
    private void updateRow(String table, Map<String, Object> values, String where, Object... key)
        throws SQLException {
      StringJoiner set = new StringJoiner(", ");
      List<Object> parameters = new ArrayList<>();
      values.forEach(
          (column, value) -> {
            set.add(column + " = ?");
            parameters.add(value);
          });
      parameters.addAll(Arrays.asList(key));
      execute("UPDATE " + table + " SET " + set + " WHERE " + where, parameters.toArray());
    }

    private <T> T orNull(T value, int oneIn) {
      return random.nextInt(oneIn) == 0 ? null : value;
    }

    private String word() {
      return WORDS[random.nextInt(WORDS.length)];
    }

    private String text() {
      return switch (random.nextInt(4)) {
        case 0 -> word();
        case 1 -> word() + " " + word();
        case 2 -> word() + " " + Long.toHexString(random.nextLong());
        default -> Long.toString(random.nextLong(), 36);
      };
    }

    /**
     * Random text that does not compress: mostly 3-10 KB, stored out of line in the TOAST table;
     * sometimes 64-256 KB, sometimes short enough to stay inline, sometimes NULL.
     */
    private String body() {
      int choice = random.nextInt(100);
      if (choice < 3) {
        return null;
      }
      int length =
          choice < 8
              ? random.nextInt(200)
              : choice < 10
                  ? 64_000 + random.nextInt(192_000)
                  : OUT_OF_LINE + random.nextInt(7_000);
      StringBuilder body = new StringBuilder(length + 16);
      if (random.nextInt(4) == 0) {
        body.append(word()).append(' ');
      }
      while (body.length() < length) {
        body.append(BODY_ALPHABET.charAt(random.nextInt(BODY_ALPHABET.length())));
      }
      return body.toString();
    }

    private BigDecimal score() {
      return switch (random.nextInt(4)) {
        case 0 -> BigDecimal.valueOf(random.nextInt(-1_000, 1_000));
        case 1 -> BigDecimal.valueOf(random.nextInt(-100_000, 100_000), 1);
        default -> BigDecimal.valueOf(random.nextLong(-999_999_999L, 999_999_999L), 2);
      };
    }

    /** A timestamptz between 1950 and 2100, at some offset, sometimes on a whole second. */
    private OffsetDateTime timestamp() {
      long micros = random.nextLong(-631_152_000_000_000L, 4_102_444_800_000_000L);
      if (random.nextInt(5) == 0) {
        micros -= Math.floorMod(micros, 1_000_000L);
      }
      ZoneOffset offset = ZoneOffset.ofTotalSeconds(random.nextInt(-24, 29) * 1_800);
      return Instant.EPOCH.plus(micros, ChronoUnit.MICROS).atOffset(offset);
    }

    private java.sql.Array tags() throws SQLException {
      String[] tags = new String[random.nextInt(5)];
      for (int i = 0; i < tags.length; i++) {
        tags[i] = random.nextInt(10) == 0 ? null : word();
      }
      return connection.createArrayOf("text", tags);
    }

    private PGobject meta() throws SQLException {
      PGobject jsonb = new PGobject();
      jsonb.setType("jsonb");
      jsonb.setValue(metaValue().toString());
      return jsonb;
    }

    private JsonNode metaValue() {
      switch (random.nextInt(20)) {
        case 0:
          return JSON.getNodeFactory().nullNode();
        case 1:
          return TextNode.valueOf(text());
        case 2:
          return JSON.createArrayNode().add(random.nextInt()).addNull().add(word());
        default:
          break;
      }
      ObjectNode meta = JSON.createObjectNode();
      if (random.nextBoolean()) {
        meta.put("n", random.nextInt());
      }
      if (random.nextBoolean()) {
        meta.put("s", text());
      }
      if (random.nextBoolean()) {
        meta.put("f", random.nextInt(100_000) / 100.0);
      }
      if (random.nextInt(4) == 0) {
        meta.put("big", new BigInteger(70, random));
      }
      if (random.nextBoolean()) {
        ArrayNode list = meta.putArray("a");
        list.add(random.nextBoolean()).addNull().add(word());
        meta.putObject("o").put("k", word()).putNull("z");
      }
      return meta;
    }

    /** One table's statements, and the keys (numbered 0 .. size-1) that exist. */
    private abstract class TableWorkload {
      final String name;
      final int size;
      final TransactionalKeys keys = new TransactionalKeys();

      /** The keys the open transaction changed, picked more often: a row changed twice in one. */
      private final List<Integer> touched = new ArrayList<>();

      TableWorkload(String name, int size) {
        this.name = name;
        this.size = size;
      }

      abstract void insert(int key) throws SQLException;

      abstract void update(int key) throws SQLException;

      abstract void delete(int key) throws SQLException;

      abstract void changeKey(int from, int to) throws SQLException;

      /** A statement over several rows, that records which keys it changed or deleted. */
      abstract void multiRow() throws SQLException;

      /** The key a row's primary key changes to; by default any unused key. */
      OptionalInt newKey(int from) {
        return anyFree();
      }

      /** Every set of keys that follows the transaction. */
      List<TransactionalKeys> state() {
        return List.of(keys);
      }

      TreeSet<Integer> live() {
        return keys.open;
      }

      final void begin() {
        state().forEach(TransactionalKeys::begin);
        touched.clear();
      }

      final void commit() {
        state().forEach(TransactionalKeys::commit);
      }

      final void markSavepoint() {
        state().forEach(TransactionalKeys::markSavepoint);
      }

      final void rollbackToSavepoint() {
        state().forEach(TransactionalKeys::rollbackToSavepoint);
      }

      /** Mostly single-row changes that keep the table a little over half full. */
      void step() throws SQLException {
        int kind = random.nextInt(100);
        if (kind < 40) {
          double fill = live().size() / (double) size;
          if (random.nextDouble() >= fill * fill) {
            insertAny();
          } else {
            deleteAny();
          }
        } else if (kind < 75) {
          updateAny();
        } else if (kind < 88) {
          changeKeyAny();
        } else {
          multiRow();
        }
      }

      void truncate() throws SQLException {
        trace.println(transactions + ": TRUNCATE " + name);
        try (Statement statement = connection.createStatement()) {
          statement.execute("TRUNCATE " + name);
        }
        statements++;
        truncates++;
        touched.addAll(live());
        state().forEach(set -> set.open.clear());
      }

      void insertAny() throws SQLException {
        OptionalInt key = anyFree();
        if (key.isEmpty()) {
          updateAny();
          return;
        }
        insert(key.getAsInt());
        live().add(key.getAsInt());
        touched.add(key.getAsInt());
      }

      private void deleteAny() throws SQLException {
        OptionalInt key = anyLive();
        if (key.isEmpty()) {
          insertAny();
          return;
        }
        delete(key.getAsInt());
        state().forEach(set -> set.open.remove(key.getAsInt()));
        touched.add(key.getAsInt());
      }

      private void updateAny() throws SQLException {
        OptionalInt key = anyLive();
        if (key.isEmpty()) {
          insertAny();
          return;
        }
        update(key.getAsInt());
        touched.add(key.getAsInt());
      }

      private void changeKeyAny() throws SQLException {
        OptionalInt from = anyLive();
        OptionalInt to = from.isEmpty() ? OptionalInt.empty() : newKey(from.getAsInt());
        if (to.isEmpty()) {
          updateAny();
          return;
        }
        changeKey(from.getAsInt(), to.getAsInt());
        live().remove(from.getAsInt());
        live().add(to.getAsInt());
        touched.add(from.getAsInt());
        touched.add(to.getAsInt());
      }

      /** Records a statement over the keys {@code [from, to)}: they changed, or are gone. */
      void touchRange(int from, int to, boolean deleted) {
        touched.addAll(live().subSet(from, to));
        if (deleted) {
          state().forEach(set -> set.open.subSet(from, to).clear());
        }
      }

      OptionalInt anyLive() {
        if (live().isEmpty()) {
          return OptionalInt.empty();
        }
        if (!touched.isEmpty() && random.nextInt(3) == 0) {
          int key = touched.get(random.nextInt(touched.size()));
          if (live().contains(key)) {
            return OptionalInt.of(key);
          }
        }
        Iterator<Integer> live = live().iterator();
        for (int skip = random.nextInt(live().size()); skip > 0; skip--) {
          live.next();
        }
        return OptionalInt.of(live.next());
      }

      OptionalInt anyFree() {
        if (live().size() == size) {
          return OptionalInt.empty();
        }
        if (!touched.isEmpty() && random.nextInt(3) == 0) {
          int key = touched.get(random.nextInt(touched.size()));
          if (!live().contains(key)) {
            return OptionalInt.of(key);
          }
        }
        int key = random.nextInt(size);
        while (live().contains(key)) {
          key = (key + 1) % size;
        }
        return OptionalInt.of(key);
      }
    }

    private final class Users extends TableWorkload {
      Users() {
        super("users", USER_IDS);
      }

      private long id(int key) {
        return key + 1L;
      }

      @Override
      void insert(int key) throws SQLException {
        execute(
            "INSERT INTO users (id, name, email, score, active, updated_at) VALUES (?, ?, ?, ?, ?,"
                + " ?)",
            id(key),
            orNull(text(), 10),
            orNull(word() + "@example.com", 3),
            orNull(score(), 8),
            orNull(random.nextBoolean(), 8),
            orNull(timestamp(), 8));
      }

      @Override
      void update(int key) throws SQLException {
        Map<String, Object> values = new LinkedHashMap<>();
        do {
          if (random.nextInt(3) == 0) {
            values.put("name", orNull(text(), 4));
          }
          if (random.nextInt(3) == 0) {
            values.put("email", orNull(word() + "@example.com", 3));
          }
          if (random.nextInt(3) == 0) {
            values.put("score", orNull(score(), 4));
          }
          if (random.nextInt(3) == 0) {
            values.put("active", orNull(random.nextBoolean(), 4));
          }
          if (random.nextInt(3) == 0) {
            values.put("updated_at", orNull(timestamp(), 4));
          }
        } while (values.isEmpty());
        updateRow("users", values, "id = ?", id(key));
      }

      @Override
      void delete(int key) throws SQLException {
        execute("DELETE FROM users WHERE id = ?", id(key));
      }

      @Override
      void changeKey(int from, int to) throws SQLException {
        if (random.nextBoolean()) {
          execute("UPDATE users SET id = ? WHERE id = ?", id(to), id(from));
        } else {
          execute("UPDATE users SET id = ?, name = ? WHERE id = ?", id(to), text(), id(from));
        }
      }

      @Override
      void multiRow() throws SQLException {
        int from = random.nextInt(size);
        int to = Math.min(size, from + 2 + random.nextInt(8));
        boolean delete = random.nextBoolean();
        execute(
            delete
                ? "DELETE FROM users WHERE id BETWEEN ? AND ?"
                : "UPDATE users SET active = NOT active, score = -score, updated_at = now()"
                    + " WHERE id BETWEEN ? AND ?",
            id(from),
            id(to - 1));
        touchRange(from, to, delete);
      }
    }

    private final class OrderLines extends TableWorkload {
      OrderLines() {
        super("order_lines", ORDERS * LINES_PER_ORDER);
      }

      private long orderId(int key) {
        return key / LINES_PER_ORDER + 1L;
      }

      private int lineNo(int key) {
        return key % LINES_PER_ORDER + 1;
      }

      @Override
      void insert(int key) throws SQLException {
        execute(
            "INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (?, ?, ?, ?)",
            orderId(key),
            lineNo(key),
            orNull("SKU-" + text(), 6),
            orNull(random.nextInt(-1_000_000, 1_000_000), 6));
      }

      @Override
      void update(int key) throws SQLException {
        Map<String, Object> values = new LinkedHashMap<>();
        do {
          if (random.nextBoolean()) {
            values.put("sku", orNull("SKU-" + text(), 4));
          }
          if (random.nextBoolean()) {
            values.put("qty", orNull(random.nextInt(-1_000_000, 1_000_000), 4));
          }
        } while (values.isEmpty());
        updateRow("order_lines", values, "order_id = ? AND line_no = ?", orderId(key), lineNo(key));
      }

      @Override
      void delete(int key) throws SQLException {
        execute(
            "DELETE FROM order_lines WHERE order_id = ? AND line_no = ?",
            orderId(key),
            lineNo(key));
      }

      /** Mostly another line number of the same order; otherwise any unused line. */
      @Override
      OptionalInt newKey(int from) {
        if (random.nextInt(3) == 0) {
          return anyFree();
        }
        int first = from - from % LINES_PER_ORDER;
        int start = random.nextInt(LINES_PER_ORDER);
        for (int i = 0; i < LINES_PER_ORDER; i++) {
          int key = first + (start + i) % LINES_PER_ORDER;
          if (!live().contains(key)) {
            return OptionalInt.of(key);
          }
        }
        return OptionalInt.empty();
      }

      @Override
      void changeKey(int from, int to) throws SQLException {
        if (orderId(from) == orderId(to)) {
          execute(
              "UPDATE order_lines SET line_no = ? WHERE order_id = ? AND line_no = ?",
              lineNo(to),
              orderId(from),
              lineNo(from));
        } else {
          execute(
              "UPDATE order_lines SET order_id = ?, line_no = ? WHERE order_id = ? AND line_no = ?",
              orderId(to),
              lineNo(to),
              orderId(from),
              lineNo(from));
        }
      }

      @Override
      void multiRow() throws SQLException {
        int order = random.nextInt(ORDERS);
        boolean delete = random.nextBoolean();
        execute(
            delete
                ? "DELETE FROM order_lines WHERE order_id = ?"
                : "UPDATE order_lines SET qty = qty + 1 WHERE order_id = ?",
            order + 1L);
        touchRange(order * LINES_PER_ORDER, (order + 1) * LINES_PER_ORDER, delete);
      }
    }

    private final class Documents extends TableWorkload {
      /** The documents whose body is stored out of line. */
      final TransactionalKeys toasted = new TransactionalKeys();

      /**
       * The documents whose key came from a key change that left their out-of-line body alone, and
       * whose body was not written since.
       */
      final TransactionalKeys bodiless = new TransactionalKeys();

      Documents() {
        super("documents", DOCUMENT_IDS);
      }

      long id(int key) {
        return key + 1L;
      }

      @Override
      List<TransactionalKeys> state() {
        return List.of(keys, toasted, bodiless);
      }

      /** Records that {@code key}'s body was written: PostgreSQL sends it with this change. */
      private String wrote(int key, String body) {
        if (body != null && body.length() >= OUT_OF_LINE) {
          toasted.open.add(key);
        } else {
          toasted.open.remove(key);
        }
        bodiless.open.remove(key);
        return body;
      }

      @Override
      void insert(int key) throws SQLException {
        execute(
            "INSERT INTO documents (id, title, body, tags, meta) VALUES (?, ?, ?, ?, ?)",
            id(key),
            orNull(text(), 6),
            wrote(key, body()),
            orNull(tags(), 6),
            orNull(meta(), 6));
      }

      /** Mostly leaves the body alone: it then arrives as an unchanged TOAST value. */
      @Override
      void update(int key) throws SQLException {
        Map<String, Object> values = new LinkedHashMap<>();
        do {
          if (random.nextInt(10) < 3) {
            values.put("body", wrote(key, body()));
          }
          if (random.nextBoolean()) {
            values.put("title", orNull(text(), 4));
          }
          if (random.nextInt(3) == 0) {
            values.put("tags", orNull(tags(), 4));
          }
          if (random.nextInt(3) == 0) {
            values.put("meta", orNull(meta(), 4));
          }
        } while (values.isEmpty());
        updateRow("documents", values, "id = ?", id(key));
      }

      @Override
      void delete(int key) throws SQLException {
        execute("DELETE FROM documents WHERE id = ?", id(key));
      }

      @Override
      void changeKey(int from, int to) throws SQLException {
        boolean outOfLine = toasted.open.remove(from);
        bodiless.open.remove(from);
        if (random.nextInt(3) == 0) {
          execute(
              "UPDATE documents SET id = ?, body = ? WHERE id = ?",
              id(to),
              wrote(to, body()),
              id(from));
        } else {
          execute("UPDATE documents SET id = ? WHERE id = ?", id(to), id(from));
          if (outOfLine) {
            toasted.open.add(to);
            bodiless.open.add(to);
          }
        }
      }

      @Override
      void multiRow() throws SQLException {
        int from = random.nextInt(size);
        int to = Math.min(size, from + 2 + random.nextInt(5));
        boolean delete = random.nextInt(3) == 0;
        if (delete) {
          execute("DELETE FROM documents WHERE id BETWEEN ? AND ?", id(from), id(to - 1));
        } else {
          execute(
              "UPDATE documents SET tags = array_append(tags, ?) WHERE id BETWEEN ? AND ?",
              word(),
              id(from),
              id(to - 1));
        }
        touchRange(from, to, delete);
      }
    }
  }
}
