package io.cachesync.testing;

import io.cachesync.Daemon;
import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Everything a streaming test needs: its own database on the shared PostgreSQL, its own Redis, a
 * probe to read Redis, and the daemon started in-process on a mapping. Close it in
 * {@code @AfterEach} or {@code @AfterAll}: it stops the daemon, Redis and the replication slot.
 */
public final class SyncHarness implements AutoCloseable {
  public static final String NAME = "it";

  public final PostgresServer postgres;
  public final RedisServer redisServer;
  public final RedisProbe redis;
  public final String database;
  private final Path directory;
  private Daemon daemon;

  public SyncHarness(String databasePrefix, String... redisArguments) {
    this(TestServers.sharedPostgres(), databasePrefix, redisArguments);
  }

  /** On a PostgreSQL server of the test's own, e.g. one it restarts. */
  public SyncHarness(PostgresServer postgres, String databasePrefix, String... redisArguments) {
    this(postgres, databasePrefix, TestServers.redis(redisArguments));
  }

  /**
   * With a Redis server the test made (one that speaks TLS, say); it is closed with the harness.
   */
  public SyncHarness(PostgresServer postgres, String databasePrefix, RedisServer redisServer) {
    this.postgres = postgres;
    this.redisServer = redisServer;
    this.redis = new RedisProbe(redisServer);
    this.database = postgres.createDatabase(databasePrefix);
    try {
      this.directory = Files.createTempDirectory("cachesync-it-");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Runs SQL statements as the superuser in this test's database. */
  public void sql(String... statements) {
    postgres.execute(database, statements);
  }

  /** Writes the configuration files for {@code mapping} and returns synchronizer.yml. */
  public Path config(String mapping) {
    return ConfigFiles.write(
        directory, NAME, ConfigFiles.postgres(postgres, database), redisServer.uri(), mapping);
  }

  /**
   * Writes the configuration files for {@code mapping} into the folder {@code name} of their own,
   * with {@code redisSection} as the body of {@code redis:} (one key per line, nested keys
   * indented), and returns synchronizer.yml.
   */
  public Path configWithRedis(String name, String redisSection, String mapping) {
    return ConfigFiles.writeWithRedisSection(
        directory.resolve(name),
        NAME,
        ConfigFiles.postgres(postgres, database),
        redisSection,
        mapping);
  }

  /**
   * Writes the configuration files for {@code mapping} with PostgreSQL and Redis reached through
   * proxies (for network faults), in a folder of their own, and returns synchronizer.yml.
   */
  public Path configThrough(TcpProxy postgresProxy, TcpProxy redisProxy, String mapping) {
    return configThrough(
        postgresProxy, "redis://" + redisProxy.host() + ":" + redisProxy.port(), mapping);
  }

  /** As {@link #configThrough(TcpProxy, TcpProxy, String)}, with Redis at {@code redisUri}. */
  public Path configThrough(TcpProxy postgresProxy, String redisUri, String mapping) {
    String postgresSection =
        "host: "
            + postgresProxy.host()
            + "\nport: "
            + postgresProxy.port()
            + "\ndatabase: "
            + database
            + "\nuser: "
            + PostgresServer.SUPERUSER
            + "\n";
    return ConfigFiles.write(
        directory.resolve("via-proxies"), NAME, postgresSection, redisUri, mapping);
  }

  /**
   * The rows {@code sql} returns as the hashes the daemon writes for them, by key: {@code
   * keyPrefix} followed by the first column; every column as its text, NULLs left out.
   */
  public Map<String, Map<String, String>> rowsAsHashes(String sql, String keyPrefix)
      throws java.sql.SQLException {
    Map<String, Map<String, String>> rows = new java.util.TreeMap<>();
    try (var connection = postgres.connect(database);
        var statement = connection.createStatement();
        var row = statement.executeQuery(sql)) {
      var columns = row.getMetaData();
      while (row.next()) {
        Map<String, String> fields = new java.util.TreeMap<>();
        for (int i = 1; i <= columns.getColumnCount(); i++) {
          if (row.getString(i) != null) {
            fields.put(columns.getColumnLabel(i), row.getString(i));
          }
        }
        rows.put(keyPrefix + row.getString(1), fields);
      }
    }
    return rows;
  }

  /** Asserts that Redis holds exactly {@code expected}: these hashes, and no other key matching. */
  public void assertRedisHolds(String keyPattern, Map<String, Map<String, String>> expected) {
    assertRedisHolds(redis, keyPattern, expected);
  }

  /** As {@link #assertRedisHolds(String, Map)}, on another Redis (a promoted replica, say). */
  public static void assertRedisHolds(
      RedisProbe redis, String keyPattern, Map<String, Map<String, String>> expected) {
    org.assertj.core.api.SoftAssertions.assertSoftly(
        softly -> {
          expected.forEach((key, row) -> softly.assertThat(redis.hash(key)).as(key).isEqualTo(row));
          softly
              .assertThat(redis.keys(keyPattern))
              .as("keys matching " + keyPattern + " (none left for rows that do not exist)")
              .containsExactlyInAnyOrderElementsOf(expected.keySet());
        });
  }

  /** Starts the daemon in this JVM on {@code mapping}. */
  public Daemon start(String mapping) throws Exception {
    return startWith(config(mapping));
  }

  /** Starts the daemon in this JVM with a synchronizer.yml of the test's own. */
  public Daemon startWith(Path settings) throws Exception {
    Configuration configuration = new ConfigurationLoader(Map.of()).load(settings);
    daemon = Daemon.start(configuration);
    return daemon;
  }

  /** Writes a synchronizer.yml for another Redis (a Sentinel URI, say) in a folder of its own. */
  public Path configFor(String redisUri, int waitReplicas, String mapping) {
    return ConfigFiles.write(
        directory.resolve("other-redis"),
        NAME,
        ConfigFiles.postgres(postgres, database),
        redisUri,
        waitReplicas,
        mapping);
  }

  public Daemon daemon() {
    return daemon;
  }

  public void stopDaemon() {
    if (daemon != null) {
      daemon.stop();
      daemon = null;
    }
  }

  @Override
  public void close() {
    stopDaemon();
    redis.close();
    redisServer.close();
    // Slot names are per server, not per database: a slot left behind (a daemon a failed test
    // left streaming) would break the next test class. Its walsender is ended, then it is dropped.
    org.awaitility.Awaitility.await("the replication slots of " + database + " dropped")
        .atMost(java.time.Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () -> {
              postgres.execute(
                  "postgres",
                  "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '"
                      + database
                      + "' AND active",
                  "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                      + " WHERE database = '"
                      + database
                      + "' AND NOT active");
              try (var connection = postgres.connect("postgres");
                  var statement = connection.createStatement();
                  var rows =
                      statement.executeQuery(
                          "SELECT count(*) FROM pg_replication_slots WHERE database = '"
                              + database
                              + "'")) {
                rows.next();
                return rows.getInt(1) == 0;
              }
            });
    Cleanup.delete(directory);
  }
}
