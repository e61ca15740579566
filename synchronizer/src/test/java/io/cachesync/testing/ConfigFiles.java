package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a synchronizer.yml and its mapping file for a test. */
public final class ConfigFiles {
  /** The {@code http:} section a configuration gets. */
  public enum Endpoint {
    /**
     * The endpoint on a free port (the daemon logs it): tests run daemons side by side. The
     * default.
     */
    FREE_PORT("http:\n  port: 0\n"),
    /** {@code http: off}: no endpoint, and no metrics recorded per change. */
    OFF("http: off\n");

    private final String section;

    Endpoint(String section) {
      this.section = section;
    }
  }

  private ConfigFiles() {}

  /**
   * Writes both files into {@code directory} and returns the path of synchronizer.yml.
   *
   * @param postgres the {@code postgres:} section's body, one key per line
   */
  public static Path write(
      Path directory, String name, String postgres, String redisUri, String mapping) {
    return write(directory, name, postgres, redisUri, 0, mapping);
  }

  /** As {@link #write(Path, String, String, String, String)}, with {@code redis.waitReplicas}. */
  public static Path write(
      Path directory,
      String name,
      String postgres,
      String redisUri,
      int waitReplicas,
      String mapping) {
    return write(directory, name, postgres, redisUri, waitReplicas, mapping, Endpoint.FREE_PORT);
  }

  /** As {@link #write(Path, String, String, String, String)}, with the {@code http:} section. */
  public static Path write(
      Path directory,
      String name,
      String postgres,
      String redisUri,
      String mapping,
      Endpoint endpoint) {
    return write(directory, name, postgres, redisUri, 0, mapping, endpoint);
  }

  private static Path write(
      Path directory,
      String name,
      String postgres,
      String redisUri,
      int waitReplicas,
      String mapping,
      Endpoint endpoint) {
    StringBuilder settings = new StringBuilder();
    settings.append("name: ").append(name).append('\n');
    settings.append("postgres:\n");
    postgres.lines().forEach(line -> settings.append("  ").append(line).append('\n'));
    settings.append("redis:\n  uri: ").append(redisUri).append('\n');
    if (waitReplicas > 0) {
      settings.append("  waitReplicas: ").append(waitReplicas).append('\n');
    }
    settings.append("mapping: mapping.yml\n");
    settings.append(endpoint.section);
    try {
      Files.createDirectories(directory);
      Files.writeString(directory.resolve("mapping.yml"), mapping, StandardCharsets.UTF_8);
      Path file = directory.resolve("synchronizer.yml");
      Files.writeString(file, settings, StandardCharsets.UTF_8);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Writes both files into {@code directory} and returns the path of synchronizer.yml, with {@code
   * redisSection} as the body of {@code redis:} (one key per line, nested keys indented: e.g. the
   * {@code tls:} section), and the endpoint on a free port.
   */
  public static Path writeWithRedisSection(
      Path directory, String name, String postgres, String redisSection, String mapping) {
    StringBuilder settings = new StringBuilder();
    settings.append("name: ").append(name).append('\n');
    settings.append("postgres:\n");
    postgres.lines().forEach(line -> settings.append("  ").append(line).append('\n'));
    settings.append("redis:\n");
    redisSection.lines().forEach(line -> settings.append("  ").append(line).append('\n'));
    settings.append("mapping: mapping.yml\n");
    settings.append(Endpoint.FREE_PORT.section);
    try {
      Files.createDirectories(directory);
      Files.writeString(directory.resolve("mapping.yml"), mapping, StandardCharsets.UTF_8);
      Path file = directory.resolve("synchronizer.yml");
      Files.writeString(file, settings, StandardCharsets.UTF_8);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The {@code postgres:} body for the superuser on {@code server}. */
  public static String postgres(PostgresServer server, String database) {
    return "host: "
        + server.host()
        + "\nport: "
        + server.port()
        + "\ndatabase: "
        + database
        + "\nuser: "
        + PostgresServer.SUPERUSER
        + "\n";
  }
}
