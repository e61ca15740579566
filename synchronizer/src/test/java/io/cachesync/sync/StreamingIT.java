package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.Daemon;
import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon against real servers: each kind of change reaches Redis. */
class StreamingIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path directory;

  private PostgresServer postgres;
  private RedisServer redisServer;
  private RedisProbe redis;
  private String database;
  private Daemon daemon;

  @BeforeEach
  void setUp() {
    postgres = TestServers.sharedPostgres();
    redisServer = TestServers.redis();
    redis = new RedisProbe(redisServer);
    database = postgres.createDatabase("streaming");
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.stop();
    }
    redis.close();
    redisServer.close();
    postgres.execute(
        "postgres",
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '"
            + database
            + "'");
  }

  private Daemon start(String mapping) throws Exception {
    Path file =
        ConfigFiles.write(
            directory, "it", ConfigFiles.postgres(postgres, database), redisServer.uri(), mapping);
    Configuration configuration = new ConfigurationLoader(Map.of()).load(file);
    daemon = Daemon.start(configuration);
    return daemon;
  }

  @Test
  void run_insertUpdateDelete_reachRedis() throws Exception {
    postgres.execute(
        database,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text)",
        "INSERT INTO users VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', NULL)");
    start("tables:\n  - table: public.users\n    key: \"user:{id}\"\n");

    await()
        .atMost(WAIT)
        .untilAsserted(() -> assertThat(redis.hash("user:1")).containsEntry("name", "Ada"));
    assertThat(redis.hash("user:2")).isEqualTo(Map.of("id", "2", "name", "Grace"));

    postgres.execute(
        database,
        "INSERT INTO users VALUES (3, 'Linus', 'l@example.com')",
        "UPDATE users SET email = NULL, name = 'Ada L' WHERE id = 1",
        "DELETE FROM users WHERE id = 2");

    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(redis.hash("user:3"))
                  .isEqualTo(Map.of("id", "3", "name", "Linus", "email", "l@example.com"));
              assertThat(redis.hash("user:1")).isEqualTo(Map.of("id", "1", "name", "Ada L"));
              assertThat(redis.redis().exists("user:2")).isZero();
            });
  }
}
