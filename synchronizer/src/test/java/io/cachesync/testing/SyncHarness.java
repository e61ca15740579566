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
    this.postgres = TestServers.sharedPostgres();
    this.redisServer = TestServers.redis(redisArguments);
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

  /** Starts the daemon in this JVM on {@code mapping}. */
  public Daemon start(String mapping) throws Exception {
    Configuration configuration = new ConfigurationLoader(Map.of()).load(config(mapping));
    daemon = Daemon.start(configuration);
    return daemon;
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
    postgres.execute(
        "postgres",
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '"
            + database
            + "' AND NOT active");
    Cleanup.delete(directory);
  }
}
