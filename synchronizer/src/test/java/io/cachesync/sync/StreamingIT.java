package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The daemon against real servers: each kind of change, format and mode reaches Redis. */
class StreamingIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("streaming");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void run_existingRowsThenInsertUpdateDelete_reachRedis() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text)",
        "INSERT INTO users VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', NULL)");
    harness.start("tables:\n  - table: public.users\n    key: \"user:{id}\"\n");

    // The initial load's writes are not one transaction in Redis: user:1 may be there before
    // user:2.
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.hash("user:1")).containsEntry("name", "Ada");
              assertThat(harness.redis.hash("user:2"))
                  .isEqualTo(Map.of("id", "2", "name", "Grace"));
            });

    harness.sql(
        "INSERT INTO users VALUES (3, 'Linus', 'l@example.com')",
        "UPDATE users SET email = NULL, name = 'Ada L' WHERE id = 1",
        "DELETE FROM users WHERE id = 2");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.hash("user:3"))
                  .isEqualTo(Map.of("id", "3", "name", "Linus", "email", "l@example.com"));
              assertThat(harness.redis.hash("user:1"))
                  .isEqualTo(Map.of("id", "1", "name", "Ada L"));
              assertThat(harness.redis.redis().exists("user:2")).isZero();
            });
  }

  @Test
  void run_jsonFormatWithColumnsAndTtl_writesTheProjectionWithItsExpiry() throws Exception {
    harness.sql(
        "CREATE TABLE orders (id bigint PRIMARY KEY, status text, total numeric(10,2), secret text)");
    harness.start(
        "tables:\n  - table: public.orders\n    key: \"order:{id}\"\n    format: json\n    columns: [id, status, total]\n    ttl: 1h\n");

    harness.sql("INSERT INTO orders VALUES (1, 'new', 12.50, 'hidden'), (2, NULL, 0, 'x')");

    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.redis().get("order:2")).isNotNull());
    assertThat(harness.redis.redis().get("order:1"))
        .matches("\\{\"__v\":\"[0-9a-f]{32}\",\"id\":1,\"status\":\"new\",\"total\":\"12.50\"}");
    assertThat(harness.redis.redis().get("order:2"))
        .endsWith(",\"id\":2,\"status\":null,\"total\":\"0.00\"}");
    assertThat(harness.redis.redis().ttl("order:1")).isBetween(3500L, 3600L);
  }

  @Test
  void run_evictMode_evictsOnEveryChange() throws Exception {
    harness.sql(
        "CREATE TABLE products (sku text PRIMARY KEY, price int)",
        "INSERT INTO products VALUES ('a', 1), ('b', 2)");
    harness.start(
        "tables:\n  - table: public.products\n    key: \"product:{sku}\"\n    mode: evict\n");
    await().atMost(WAIT).until(() -> harness.daemon().synchronizer().counts().changes() == 2);
    harness.redis.redis().set("product:a", "cached by the application");
    harness.redis.redis().set("product:b", "cached by the application");
    harness.redis.redis().set("product:c", "cached by the application");

    harness.sql(
        "UPDATE products SET price = 3 WHERE sku = 'a'",
        "DELETE FROM products WHERE sku = 'b'",
        "INSERT INTO products VALUES ('c', 5)");

    await().atMost(WAIT).untilAsserted(() -> assertThat(harness.redis.keys("product:*")).isEmpty());
  }

  @Test
  void run_compositeKeyAndPrimaryKeyChange_evictsTheOldKeyAndWritesTheNew() throws Exception {
    harness.sql(
        "CREATE TABLE order_lines (order_id bigint, line_no int, sku text, PRIMARY KEY (order_id, line_no))",
        "INSERT INTO order_lines VALUES (1, 1, 'a'), (1, 2, 'b')");
    harness.start(
        "tables:\n  - table: public.order_lines\n    key: \"line:{order_id}:{line_no}\"\n");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.keys("line:*")).containsExactly("line:1:1", "line:1:2"));

    harness.sql("UPDATE order_lines SET line_no = 3 WHERE order_id = 1 AND line_no = 2");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.keys("line:*")).containsExactly("line:1:1", "line:1:3"));
    assertThat(harness.redis.hash("line:1:3"))
        .isEqualTo(Map.of("order_id", "1", "line_no", "3", "sku", "b"));
  }

  @Test
  void run_keyChangedToAValueThatCannotBeRendered_evictsTheOldKey() throws Exception {
    harness.sql(
        "CREATE TABLE tags (name text PRIMARY KEY, label text)",
        "INSERT INTO tags VALUES ('a', 'first'), ('b', 'second'), ('c', 'third')");
    harness.start("tables:\n  - table: public.tags\n    key: \"tag:{name}:info\"\n");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.keys("tag:*"))
                    .containsExactlyInAnyOrder("tag:a:info", "tag:b:info", "tag:c:info"));

    harness.sql(
        "UPDATE tags SET name = 'a:info' WHERE name = 'a'",
        "UPDATE tags SET name = '' WHERE name = 'b'",
        "UPDATE tags SET label = 'marker' WHERE name = 'c'");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.hash("tag:c:info")).containsEntry("label", "marker"));
    assertThat(harness.redis.keys("tag:*"))
        .as("rows whose key cannot be rendered leave no key behind")
        .containsExactly("tag:c:info");
  }

  @Test
  void run_truncate_evictsThatTableOnlyEvenWithGlobCharactersInItsPrefix() throws Exception {
    harness.sql(
        "CREATE TABLE a (id int PRIMARY KEY)",
        "CREATE TABLE b (id int PRIMARY KEY)",
        "INSERT INTO a SELECT generate_series(1, 50)",
        "INSERT INTO b SELECT generate_series(1, 50)");
    harness.start(
        "tables:\n  - table: public.a\n    key: \"a[*]:{id}\"\n  - table: public.b\n    key: \"b:{id}\"\n");
    // The two tables load in parallel lanes: either may finish first.
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(harness.redis.keys("b:*")).hasSize(50);
              assertThat(harness.redis.keys("a*")).hasSize(50);
            });
    harness.redis.redis().set("a[x]:unrelated", "not a key of table a");

    harness.sql("TRUNCATE a", "INSERT INTO a VALUES (7)");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.keys("a*")).containsExactly("a[*]:7", "a[x]:unrelated"));
    assertThat(harness.redis.keys("b:*")).hasSize(50);
  }

  @Test
  void run_columnsAddedAndDropped_showInTheNextWrite() throws Exception {
    harness.sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text, nickname text)",
        "INSERT INTO users VALUES (1, 'Ada', 'ada')");
    harness.start("tables:\n  - table: public.users\n    key: \"user:{id}\"\n");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.hash("user:1")).containsEntry("nickname", "ada"));

    harness.sql(
        "ALTER TABLE users DROP COLUMN nickname",
        "ALTER TABLE users ADD COLUMN email text",
        "UPDATE users SET email = 'a@b.c' WHERE id = 1");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.hash("user:1"))
                    .isEqualTo(Map.of("id", "1", "name", "Ada", "email", "a@b.c")));
  }

  @Test
  void run_keyOfTheWrongType_isEvictedCountedAndTheStreamGoesOn() throws Exception {
    harness.sql("CREATE TABLE users (id bigint PRIMARY KEY, name text)");
    harness.start("tables:\n  - table: public.users\n    key: \"user:{id}\"\n");
    // Streamed changes, not the initial load: a load writes the table's rows whatever the keys
    // held before.
    harness.daemon().initialLoad().get(60, java.util.concurrent.TimeUnit.SECONDS);
    harness.redis.redis().rpush("user:1", "a list where a hash belongs");

    harness.sql("INSERT INTO users VALUES (1, 'Ada')", "INSERT INTO users VALUES (2, 'Grace')");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.hash("user:2")).containsEntry("name", "Grace"));
    assertThat(harness.redis.redis().exists("user:1")).isZero();
    assertThat(harness.daemon().synchronizer().counts().failed()).isEqualTo(1);
  }

  @Test
  void run_reservedColumnAddedWhileRunning_evictsTheKeyWhichLaterUpdatesWriteAgain()
      throws Exception {
    harness.sql(
        "CREATE TABLE tags (id bigint PRIMARY KEY, label text)",
        "CREATE TABLE marks (id bigint PRIMARY KEY)",
        "INSERT INTO tags VALUES (1, 'one')");
    harness.start(
        "tables:\n  - table: public.tags\n    key: \"tag:{id}\"\n"
            + "  - table: public.marks\n    key: \"mark:{id}\"\n");
    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.hash("tag:1")).containsEntry("label", "one"));

    // A __v column would overwrite the version: 'zzzz' is above every version, so every later
    // write of the key would be dropped as stale.
    harness.sql(
        "ALTER TABLE tags ADD COLUMN __v text",
        "UPDATE tags SET __v = 'zzzz', label = 'two' WHERE id = 1",
        "INSERT INTO marks VALUES (1)");
    // Changes are applied in commit order: once the mark is cached, so is the update before it.
    await().atMost(WAIT).until(() -> harness.redis.redis().exists("mark:1") == 1);
    assertThat(harness.redis.redis().exists("tag:1")).as("evicted, not written").isZero();

    harness.sql("ALTER TABLE tags DROP COLUMN __v", "UPDATE tags SET label = 'three' WHERE id = 1");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.hash("tag:1"))
                    .isEqualTo(Map.of("id", "1", "label", "three")));
  }
}
