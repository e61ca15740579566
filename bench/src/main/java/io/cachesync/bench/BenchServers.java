package io.cachesync.bench;

import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The throwaway servers of one run, from the tests' fixtures: a PostgreSQL with logical decoding
 * (and the fixtures' {@code fsync=off}, {@code full_page_writes=off}: nothing here must survive a
 * crash), an empty Redis without persistence and, when the run has a cluster workload, a Redis
 * Cluster of {@value #CLUSTER_MASTERS} masters without replicas (also without persistence). All are
 * removed on {@link #close()}, and by the fixtures' shutdown hook when the run dies.
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

  /**
   * The cluster workloads' masters. No replicas: on two cores, three more redis-server processes
   * replicating every write would take CPU from the masters and the daemon, and the measurement is
   * of the writer's split of each batch over the masters, which replicas do not change (the daemon
   * runs with {@code waitReplicas: 0}).
   */
  static final int CLUSTER_MASTERS = 3;

  final PostgresServer postgres;
  final RedisServer redis;

  /** The Redis Cluster of the cluster workloads; empty when the run has none. */
  final Optional<RedisCluster> cluster;

  private BenchServers(PostgresServer postgres, RedisServer redis, Optional<RedisCluster> cluster) {
    this.postgres = postgres;
    this.redis = redis;
    this.cluster = cluster;
  }

  /**
   * Starts the servers, and the Redis Cluster too when {@code withCluster}, formed and stable
   * before this returns.
   */
  static BenchServers start(boolean withCluster) {
    PostgresServer postgres = TestServers.postgres(POSTGRES_SETTINGS);
    RedisServer redis = null;
    try {
      redis = TestServers.redis();
      Optional<RedisCluster> cluster =
          withCluster
              ? Optional.of(TestServers.redisCluster(CLUSTER_MASTERS, 0))
              : Optional.empty();
      return new BenchServers(postgres, redis, cluster);
    } catch (RuntimeException e) {
      if (redis != null) {
        redis.close();
      }
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
  OptionalLong redisPid() {
    return redisPid(redis);
  }

  /**
   * The process ids of the cluster's redis-server processes (all masters), each from its {@code
   * INFO server}; empty when the run has no cluster or any of them does not say.
   */
  Optional<List<Long>> clusterPids() {
    if (cluster.isEmpty()) {
      return Optional.empty();
    }
    List<OptionalLong> pids = cluster.get().servers().stream().map(BenchServers::redisPid).toList();
    return pids.stream().allMatch(OptionalLong::isPresent)
        ? Optional.of(pids.stream().map(OptionalLong::getAsLong).toList())
        : Optional.empty();
  }

  private static OptionalLong redisPid(RedisServer server) {
    try (RedisProbe probe = new RedisProbe(server)) {
      return redisPid(probe.redis().info("server"));
    }
  }

  static OptionalLong redisPid(String info) {
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
      cluster.ifPresent(RedisCluster::close);
    } finally {
      try {
        redis.close();
      } finally {
        postgres.close();
      }
    }
  }
}
