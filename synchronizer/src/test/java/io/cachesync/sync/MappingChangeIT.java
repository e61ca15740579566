package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Editing the mapping between runs: an added table is loaded and streamed, the others are not
 * reloaded.
 */
class MappingChangeIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String USERS = "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";
  private static final String USERS_AND_ORDERS =
      USERS + "  - table: public.orders\n    key: \"order:{id}\"\n    format: json\n";

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("mapping");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void restart_tableAddedToTheMapping_loadsItsRowsStreamsItAndLeavesTheOthersAlone()
      throws Exception {
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "CREATE TABLE orders (id int PRIMARY KEY, status text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 10) i",
        "INSERT INTO orders SELECT i, 'new' FROM generate_series(1, 3000) i");
    harness.start(USERS);
    await().atMost(WAIT).until(() -> harness.redis.keys("user:*").size() == 10);
    harness.stopDaemon();
    String userVersion = harness.redis.redis().hget("user:1", "__v");

    harness.start(USERS_AND_ORDERS);
    harness.sql(
        "UPDATE orders SET status = 'paid' WHERE id = 2",
        "INSERT INTO orders VALUES (3001, 'new')");

    await().atMost(WAIT).until(() -> harness.redis.keys("order:*").size() == 3001);
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> assertThat(harness.redis.redis().get("order:2")).contains("\"status\":\"paid\""));
    assertThat(harness.redis.redis().get("order:1")).contains("\"status\":\"new\"");
    assertThat(harness.redis.redis().hget("user:1", "__v"))
        .as("users were not reloaded")
        .isEqualTo(userVersion);
    await()
        .atMost(WAIT)
        .until(() -> harness.redis.redis().sismember("cachesync:it:tables", "public.orders"));

    harness.sql("UPDATE users SET name = 'renamed' WHERE id = 1");
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(harness.redis.hash("user:1"))
                    .isEqualTo(Map.of("id", "1", "name", "renamed")));
  }

  @Test
  void restart_tableRemovedFromTheMapping_stopsSyncingItAndLeavesItsKeys() throws Exception {
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "CREATE TABLE orders (id int PRIMARY KEY, status text)",
        "INSERT INTO users VALUES (1, 'a')",
        "INSERT INTO orders VALUES (1, 'new')");
    harness.start(USERS_AND_ORDERS);
    await().atMost(WAIT).until(() -> harness.redis.redis().exists("user:1", "order:1") == 2);
    harness.stopDaemon();

    harness.start(USERS);
    harness.sql(
        "UPDATE orders SET status = 'paid' WHERE id = 1",
        "UPDATE users SET name = 'b' WHERE id = 1");

    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(harness.redis.hash("user:1")).containsEntry("name", "b"));
    assertThat(harness.redis.redis().get("order:1")).contains("\"status\":\"new\"");
  }
}
