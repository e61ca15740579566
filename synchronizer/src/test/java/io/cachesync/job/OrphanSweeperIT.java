package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.state.StateStore;
import io.cachesync.testing.SyncHarness;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The orphan sweep a resync runs never deletes the key of a row that exists, also when the row is
 * inserted, and its key written by the stream, while the sweep looks at the key: between the lookup
 * that finds no row and the read of the key's version, the moment a sweep that looked a key up only
 * once would evict the stream's new value.
 */
class OrphanSweeperIT {
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n"
          + "  - table: public.lines\n    key: \"line:{order_id}:{no}\"\n";
  private static final String OLD = "0".repeat(31) + "1";
  private static final String NEW = "0".repeat(31) + "2";

  private SyncHarness harness;
  private Configuration configuration;
  private StateStore state;

  @BeforeEach
  void setUp() throws Exception {
    harness = new SyncHarness("orphansweeper");
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "CREATE TABLE lines (order_id bigint, no int, item text, PRIMARY KEY (order_id, no))",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 2500) i",
        "INSERT INTO lines SELECT i / 3, i % 3, 'item' FROM generate_series(3, 2502) i");
    configuration = new ConfigurationLoader(Map.of()).load(harness.config(MAPPING));
    for (int id = 1; id <= 2500; id++) {
      harness.redis.redis().hset("user:" + id, Map.of("__v", OLD, "name", "user " + id));
    }
    for (int i = 3; i <= 2502; i++) {
      harness.redis.redis().hset("line:" + (i / 3) + ":" + (i % 3), Map.of("__v", OLD));
    }
  }

  @AfterEach
  void tearDown() {
    if (state != null) {
      state.close();
    }
    harness.close();
  }

  /**
   * No daemon streams here: a stored position past any WAL this test writes stands for one that has
   * applied everything (SweepBehindTheStreamIT has a stream that lags).
   */
  private StreamFence stream() {
    if (state == null) {
      harness
          .redis
          .redis()
          .hset(
              configuration.settings().stateKeyPrefix() + "position",
              Map.of(
                  "version",
                  new Version(Long.MAX_VALUE, Long.MAX_VALUE).text(),
                  "applied",
                  "7fffffffffffffff"));
      state =
          LettuceStateStore.connect(
              configuration.settings().redis(), configuration.settings().stateKeyPrefix());
    }
    return new StreamFence(state, Duration.ofSeconds(5));
  }

  @Test
  void find_rowInsertedAndStreamedWhileItsKeyIsLookedAt_keepsTheKey() throws Exception {
    // Orphans: keys of rows that do not exist, and 9001, whose row is inserted once the sweep's
    // first lookup found none, with its key rewritten at a newer version, as the stream would.
    for (int id : new int[] {9000, 9001, 9002}) {
      harness.redis.redis().hset("user:" + id, Map.of("__v", OLD, "name", "gone"));
    }
    harness.redis.redis().hset("user:notanumber", Map.of("__v", OLD));

    Map<String, String> found =
        sweep(
            "users",
            "9001",
            "INSERT INTO users VALUES (9001, 'inserted')",
            () -> harness.redis.redis().hset("user:9001", Map.of("__v", NEW, "name", "inserted")));

    assertThat(found).containsOnlyKeys("user:9000", "user:9002", "user:notanumber");
    assertThat(found).containsEntry("user:9000", OLD);
  }

  @Test
  void find_keyOfSeveralColumns_isLookedUpByEachAndKeptWhenItsRowIsInsertedMeanwhile()
      throws Exception {
    harness.redis.redis().hset("line:77778:1", Map.of("__v", OLD));
    harness.redis.redis().hset("line:77777:2", Map.of("__v", OLD));
    harness.redis.redis().hset("line:5:99", Map.of("__v", OLD));

    Map<String, String> found =
        sweep(
            "lines",
            "77777",
            "INSERT INTO lines VALUES (77777, 2, 'inserted')",
            () -> harness.redis.redis().hset("line:77777:2", Map.of("__v", NEW)));

    assertThat(found).containsOnlyKeys("line:77778:1", "line:5:99");
  }

  @Test
  void evictBehindTheStream_deletesOnlyOnceThePositionInRedisPassedTheFence() throws Exception {
    String prefix = configuration.settings().stateKeyPrefix();
    harness.redis.redis().hset("user:9000", Map.of("__v", OLD));
    harness.redis.redis().hset(prefix + "position", Map.of("applied", "00000000000a0000"));
    try (LettuceCacheInspector redis =
        LettuceCacheInspector.connect(configuration.settings().redis())) {
      // A failover lost the batches past 0/A0000: the sweep's fence is not reached there.
      assertThatThrownBy(
              () -> redis.evictBehindTheStream(Map.of("user:9000", OLD), prefix, 0xa0001))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("1 orphan keys not removed (0 were)")
          .hasMessageContaining("is before 0/A0001");
      assertThat(harness.redis.redis().exists("user:9000")).isOne();

      assertThat(redis.evictBehindTheStream(Map.of("user:9000", OLD), prefix, 0xa0000)).isOne();
      assertThat(harness.redis.redis().exists("user:9000")).isZero();
    }
  }

  @Test
  void streamFence_waitsForTheAppliedBound_notTheLastBatchsVersion() {
    // A TRUNCATE's evictions still run: the last batch's version is past the fence, the bound
    // every transaction is wholly applied up to is not.
    String prefix = configuration.settings().stateKeyPrefix();
    harness
        .redis
        .redis()
        .hset(
            prefix + "position",
            Map.of("version", new Version(0xb0000, 0xb0010).text(), "applied", "00000000000a0000"));
    try (StateStore store = LettuceStateStore.connect(configuration.settings().redis(), prefix)) {
      assertThat(new StreamFence(store, Duration.ofMillis(300)).reached(0xa0001)).isFalse();
      assertThat(new StreamFence(store, Duration.ofMillis(300)).reached(0xa0000)).isTrue();
      harness.redis.redis().hdel(prefix + "position", "applied");
      assertThat(new StreamFence(store, Duration.ofMillis(300)).reached(0)).as("loading").isFalse();
    }
  }

  @Test
  void report_andFind_findTheSameOrphansWithTheVersionsTheyHold() throws Exception {
    harness.redis.redis().hset("user:9000", Map.of("__v", OLD));
    harness.redis.redis().hset("user:0042", Map.of("__v", NEW));
    harness.redis.redis().set("user:notanumber", "the application's: no version");
    try (Connection connection = harness.postgres.connect(harness.database);
        LettuceCacheInspector redis =
            LettuceCacheInspector.connect(configuration.settings().redis())) {
      OrphanSweeper sweeper = new OrphanSweeper(connection, redis);
      Map<String, String> reported = new LinkedHashMap<>();
      Map<String, String> found = new LinkedHashMap<>();

      long keys = sweeper.report(users(), Long.MAX_VALUE, reported::putAll);
      sweeper.find(users(), stream(), (orphans, fence) -> found.putAll(orphans));

      assertThat(keys).isEqualTo(2503);
      // user:0042 matches the template, but row 42 renders user:42; user:notanumber matches it
      // too, and is the table's whatever it holds.
      assertThat(reported)
          .containsOnly(
              Map.entry("user:9000", OLD),
              Map.entry("user:0042", NEW),
              Map.entry("user:notanumber", ""));
      assertThat(found).isEqualTo(reported);
    }
  }

  @Test
  void find_lookupFailsForAnotherReasonThanTheKeysValue_failsInsteadOfTakingRowsForMissing()
      throws Exception {
    harness.redis.redis().hset("user:9000", Map.of("__v", OLD));
    try (Connection connection = harness.postgres.connect(harness.database);
        LettuceCacheInspector redis =
            LettuceCacheInspector.connect(configuration.settings().redis())) {
      Map<String, String> found = new LinkedHashMap<>();
      // Every lookup of keys fails as a statement timeout fails it (SQLSTATE 57014).
      Connection slow =
          afterEachQuery(
              connection,
              values -> {
                if (!values.isEmpty()) {
                  throw new java.sql.SQLException(
                      "ERROR: canceling statement due to statement timeout", "57014");
                }
              });

      assertThatThrownBy(
              () ->
                  new OrphanSweeper(slow, redis)
                      .find(users(), stream(), (orphans, fence) -> found.putAll(orphans)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("cannot look up the keys of public.users");
      assertThat(found).isEmpty();
    }
  }

  private TableMapping users() {
    return table("users");
  }

  private TableMapping table(String name) {
    return configuration.mapping().tables().stream()
        .filter(t -> t.table().table().equals(name))
        .findFirst()
        .orElseThrow();
  }

  /**
   * Runs the guarded sweep of {@code table} on a connection that, right after the first lookup of a
   * key column value {@code value} returned (no row), commits {@code insert} and runs {@code
   * streamed}.
   */
  private Map<String, String> sweep(String table, String value, String insert, Runnable streamed)
      throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Connection writer = harness.postgres.connect(harness.database);
        LettuceCacheInspector redis =
            LettuceCacheInspector.connect(configuration.settings().redis())) {
      AtomicInteger lookups = new AtomicInteger();
      Connection racing =
          afterEachQuery(
              connection,
              values -> {
                if (values.contains(value) && lookups.getAndIncrement() == 0) {
                  try (Statement statement = writer.createStatement()) {
                    statement.execute(insert);
                  }
                  streamed.run();
                }
              });
      Map<String, String> found = new LinkedHashMap<>();
      List<Map<String, String>> pages = new ArrayList<>();
      new OrphanSweeper(racing, redis)
          .find(table(table), stream(), (orphans, fence) -> pages.add(orphans));
      pages.forEach(found::putAll);
      assertThat(lookups.get())
          .as("lookups of the row's key, the first before its insert")
          .isPositive();
      return found;
    }
  }

  @FunctionalInterface
  private interface QueryHook {
    /** A query ran; {@code values} are the elements of the arrays bound to it. */
    void ran(List<Object> values) throws Exception;
  }

  /**
   * {@code connection}, calling {@code hook} after each prepared query ran, before its rows are
   * read: PgJDBC has read them all by then, so the hook's writes are not among them.
   */
  private static Connection afterEachQuery(Connection connection, QueryHook hook) {
    InvocationHandler connections =
        (proxy, method, arguments) -> {
          Object result = invoke(connection, method, arguments);
          if (method.getName().equals("prepareStatement")) {
            PreparedStatement statement = (PreparedStatement) result;
            List<Object> bound = new ArrayList<>();
            return Proxy.newProxyInstance(
                OrphanSweeperIT.class.getClassLoader(),
                new Class<?>[] {PreparedStatement.class},
                (statementProxy, statementMethod, statementArguments) -> {
                  if (statementMethod.getName().equals("setArray")) {
                    bound.addAll(
                        List.of((Object[]) ((java.sql.Array) statementArguments[1]).getArray()));
                  }
                  Object answer = invoke(statement, statementMethod, statementArguments);
                  if (statementMethod.getName().equals("executeQuery")) {
                    hook.ran(bound);
                  }
                  return answer;
                });
          }
          return result;
        };
    return (Connection)
        Proxy.newProxyInstance(
            OrphanSweeperIT.class.getClassLoader(), new Class<?>[] {Connection.class}, connections);
  }

  private static Object invoke(Object target, java.lang.reflect.Method method, Object[] arguments)
      throws Throwable {
    try {
      return method.invoke(target, arguments);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
