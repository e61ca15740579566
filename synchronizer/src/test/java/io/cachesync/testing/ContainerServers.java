package io.cachesync.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.PostgreSQLContainer;

/**
 * Servers from Testcontainers, for a developer machine with Docker but without the PostgreSQL and
 * Redis binaries. Deliberately thin: the tests that stop, kill or reconfigure servers need the
 * local binaries, which CI has.
 */
final class ContainerServers {
  private ContainerServers() {}

  static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException | LinkageError e) {
      return false;
    }
  }

  static PostgresServer postgres(Map<String, String> settings) {
    List<String> command =
        new ArrayList<>(
            List.of("postgres", "-c", "wal_level=logical", "-c", "max_replication_slots=20"));
    settings.forEach((key, value) -> command.addAll(List.of("-c", key + "=" + value)));
    PostgreSQLContainer<?> container =
        new PostgreSQLContainer<>("postgres:15")
            .withUsername(PostgresServer.SUPERUSER)
            .withEnv("POSTGRES_HOST_AUTH_METHOD", "trust")
            .withCommand(command.toArray(String[]::new));
    container.start();
    PostgresServer server =
        new PostgresServer() {
          @Override
          public String host() {
            return container.getHost();
          }

          @Override
          public int port() {
            return container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT);
          }

          @Override
          public void stop() {
            throw new UnsupportedOperationException(
                "stopping a server needs the local PostgreSQL binaries");
          }

          @Override
          public void start() {
            throw new UnsupportedOperationException(
                "restarting a server needs the local PostgreSQL binaries");
          }

          @Override
          public void close() {
            container.stop();
          }
        };
    server.execute(
        "postgres",
        "CREATE ROLE "
            + PostgresServer.PASSWORD_ROLE
            + " LOGIN PASSWORD '"
            + PostgresServer.PASSWORD_ROLE_PASSWORD
            + "'");
    return server;
  }

  static RedisServer redis(List<String> arguments) {
    List<String> command =
        new ArrayList<>(List.of("redis-server", "--save", "", "--appendonly", "no"));
    command.addAll(arguments);
    GenericContainer<?> container =
        new GenericContainer<>("redis:7")
            .withExposedPorts(6379)
            .withCommand(command.toArray(String[]::new));
    container.start();
    return new RedisServer() {
      @Override
      public String host() {
        return container.getHost();
      }

      @Override
      public int port() {
        return container.getMappedPort(6379);
      }

      @Override
      public void close() {
        container.stop();
      }
    };
  }
}
