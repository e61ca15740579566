package io.cachesync.bench;

import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

/**
 * The throwaway servers of one run, from the tests' fixtures: a PostgreSQL with logical decoding
 * (and the fixtures' {@code fsync=off}, {@code full_page_writes=off}: nothing here must survive a
 * crash) and an empty Redis without persistence. Both are removed on {@link #close()}, and by the
 * fixtures' shutdown hook when the run dies.
 */
final class BenchServers implements AutoCloseable {
  /**
   * Beyond the fixtures' defaults: room for the backlogs without checkpoints in the middle, and
   * commit times kept for the lag measurement ({@code pg_xact_commit_timestamp}).
   */
  static final Map<String, String> POSTGRES_SETTINGS =
      Map.of(
          "shared_buffers", "256MB",
          "max_wal_size", "8GB",
          "checkpoint_timeout", "30min",
          "track_commit_timestamp", "on",
          // The warm catch-up holds a consumer stopped (SIGSTOP) while the others drain, longer
          // than the default 60 s after which a WAL sender drops a consumer that does not answer.
          "wal_sender_timeout", "0");

  final PostgresServer postgres;
  final RedisServer redis;

  private BenchServers(PostgresServer postgres, RedisServer redis) {
    this.postgres = postgres;
    this.redis = redis;
  }

  static BenchServers start() {
    PostgresServer postgres = TestServers.postgres(POSTGRES_SETTINGS);
    try {
      return new BenchServers(postgres, TestServers.redis());
    } catch (RuntimeException e) {
      postgres.close();
      throw e;
    }
  }

  /** The server's own binaries folder, where {@code pg_recvlogical} of its version lives. */
  Path postgresBinaries() throws SQLException {
    return Path.of(query("SELECT setting FROM pg_config WHERE name = 'BINDIR'"));
  }

  String postgresVersion() throws SQLException {
    return query("SHOW server_version");
  }

  String postgresSetting(String name) throws SQLException {
    return query("SELECT current_setting('" + name + "')");
  }

  String redisVersion() {
    try (RedisProbe probe = new RedisProbe(redis)) {
      return redisVersion(probe.redis().info("server"));
    }
  }

  /** The process id of redis-server, from {@code INFO server}; empty when it does not say. */
  java.util.OptionalLong redisPid() {
    try (RedisProbe probe = new RedisProbe(redis)) {
      return redisPid(probe.redis().info("server"));
    }
  }

  static java.util.OptionalLong redisPid(String info) {
    return info.lines()
        .map(String::strip)
        .filter(line -> line.matches("process_id:[0-9]+"))
        .mapToLong(line -> Long.parseLong(line.substring("process_id:".length())))
        .findFirst();
  }

  static String redisVersion(String info) {
    return info.lines()
        .filter(line -> line.startsWith("redis_version:"))
        .map(line -> line.substring("redis_version:".length()))
        .findFirst()
        .orElse("?");
  }

  private String query(String sql) throws SQLException {
    try (Connection connection = postgres.connect("postgres");
        Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery(sql)) {
      row.next();
      return row.getString(1);
    }
  }

  @Override
  public void close() {
    try {
      redis.close();
    } finally {
      postgres.close();
    }
  }
}
