package io.cachesync.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Where test servers come from: the installed binaries when they are there, otherwise Docker
 * through Testcontainers. This is the only place that chooses.
 */
public final class TestServers {
  private static final Optional<Path> POSTGRES_BINARIES = findPostgresBinaries();
  private static final Optional<Path> REDIS_SERVER = findOnPath("redis-server");
  private static final Optional<Path> PROMETHEUS = findOnPath("prometheus");
  private static final Optional<Path> PROMTOOL = findOnPath("promtool");

  private static PostgresServer shared;

  private TestServers() {}

  /**
   * A new PostgreSQL server with {@code wal_level=logical} unless {@code settings} say otherwise.
   */
  public static PostgresServer postgres(Map<String, String> settings) {
    if (POSTGRES_BINARIES.isPresent()) {
      return LocalPostgres.create(POSTGRES_BINARIES.get(), settings);
    }
    if (ContainerServers.dockerAvailable()) {
      return ContainerServers.postgres(settings);
    }
    throw new IllegalStateException(
        "no PostgreSQL for the tests: install PostgreSQL (scripts/test does it on Debian) or start a"
            + " Docker engine");
  }

  /**
   * A new PostgreSQL server as {@link #postgres(Map)}, that serves TLS only, as {@code tls} says.
   * Needs the installed binaries (no container variant).
   */
  public static PostgresServer postgres(Map<String, String> settings, ServerTls tls) {
    return LocalPostgres.create(
        POSTGRES_BINARIES.orElseThrow(
            () ->
                new IllegalStateException(
                    "no PostgreSQL for the TLS tests: install PostgreSQL (scripts/test does it on"
                        + " Debian)")),
        settings,
        Optional.of(tls));
  }

  /**
   * One logical-decoding PostgreSQL server shared by the whole test JVM; each test class creates
   * its own database on it ({@link PostgresServer#createDatabase}). Stopped when the JVM exits.
   */
  public static synchronized PostgresServer sharedPostgres() {
    if (shared == null) {
      shared = postgres(Map.of());
    }
    return shared;
  }

  /** A new Redis server, started with extra {@code redis-server} arguments. */
  public static RedisServer redis(String... arguments) {
    if (REDIS_SERVER.isPresent()) {
      return LocalRedis.create(REDIS_SERVER.get(), List.of(arguments));
    }
    if (ContainerServers.dockerAvailable()) {
      return ContainerServers.redis(List.of(arguments));
    }
    throw new IllegalStateException(
        "no Redis for the tests: install redis-server (scripts/test does it on Debian) or start a"
            + " Docker engine");
  }

  /**
   * A new Redis server that speaks only TLS, as {@code tls} says ({@code --port 0} and {@code
   * --tls-port}), started with extra {@code redis-server} arguments; it needs the installed binary.
   */
  public static RedisServer redisTls(RedisTls tls, String... arguments) {
    return LocalRedis.create(
        REDIS_SERVER.orElseThrow(
            () ->
                new IllegalStateException(
                    "no redis-server for the TLS tests: install redis-server (scripts/test does"
                        + " it on Debian)")),
        List.of(arguments),
        tls);
  }

  /**
   * A new Redis Cluster of {@code masters} masters (at least 3) with {@code replicasEach} replicas
   * each, formed and stable (see {@link RedisCluster}). It needs the installed {@code redis-server}
   * and {@code redis-cli}: there is no container variant, as cluster nodes give clients and each
   * other the addresses they see themselves at, which only host networking would make reachable
   * from here.
   */
  public static RedisCluster redisCluster(int masters, int replicasEach) {
    return RedisCluster.start(
        REDIS_SERVER.orElseThrow(
            () ->
                new IllegalStateException(
                    "no redis-server for the Redis Cluster tests: install redis-server (scripts/test"
                        + " does it on Debian); a cluster cannot run in Docker here")),
        masters,
        replicasEach);
  }

  /**
   * A new Redis Cluster as {@link #redisCluster(int, int)} that speaks only TLS, as {@code tls}
   * says, to clients and between its nodes: its {@link RedisCluster#uri()} is {@code
   * rediss-cluster://}.
   */
  public static RedisCluster redisClusterTls(int masters, int replicasEach, RedisTls tls) {
    return RedisCluster.start(
        REDIS_SERVER.orElseThrow(
            () ->
                new IllegalStateException(
                    "no redis-server for the Redis Cluster tests: install redis-server (scripts/test"
                        + " does it on Debian)")),
        masters,
        replicasEach,
        tls);
  }

  /**
   * A new Prometheus server that scrapes itself (job {@code prometheus}) and each job's targets
   * ({@code host:port}) every second.
   */
  public static LocalPrometheus prometheus(Map<String, List<String>> targetsByJob) {
    return LocalPrometheus.create(
        PROMETHEUS.orElseThrow(() -> prometheusMissing("prometheus")), targetsByJob);
  }

  /** The installed {@code promtool}, which checks and unit-tests Prometheus rules. */
  public static Path promtool() {
    return PROMTOOL.orElseThrow(() -> prometheusMissing("promtool"));
  }

  private static IllegalStateException prometheusMissing(String executable) {
    return new IllegalStateException(
        "no "
            + executable
            + " for the tests: install the Debian package prometheus (scripts/test does it)");
  }

  private static Optional<Path> findPostgresBinaries() {
    String configured = System.getenv("CACHESYNC_PG_BINDIR");
    if (configured != null && !configured.isBlank()) {
      return Optional.of(Path.of(configured));
    }
    Optional<Path> fromPgConfig =
        findOnPath("pg_config")
            .flatMap(TestServers::bindir)
            .filter(d -> Files.isExecutable(d.resolve("initdb")));
    if (fromPgConfig.isPresent()) {
      return fromPgConfig;
    }
    Path debian = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(debian)) {
      return Optional.empty();
    }
    try (Stream<Path> versions = Files.list(debian)) {
      return versions
          .map(version -> version.resolve("bin"))
          .filter(bin -> Files.isExecutable(bin.resolve("initdb")))
          .max((a, b) -> Integer.compare(major(a), major(b)));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static int major(Path bin) {
    try {
      return Integer.parseInt(bin.getParent().getFileName().toString());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static Optional<Path> bindir(Path pgConfig) {
    try {
      Process process =
          new ProcessBuilder(pgConfig.toString(), "--bindir").redirectErrorStream(true).start();
      String output =
          new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      return process.waitFor(10, TimeUnit.SECONDS) && process.exitValue() == 0
          ? Optional.of(Path.of(output))
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static Optional<Path> findOnPath(String executable) {
    String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    return Stream.of(path.split(":"))
        .map(directory -> Path.of(directory, executable))
        .filter(Files::isExecutable)
        .findFirst();
  }
}
