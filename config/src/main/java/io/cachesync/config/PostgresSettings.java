package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * Where PostgreSQL is, how to log in and how to use TLS. {@link #toString()} never shows the
 * password.
 */
public record PostgresSettings(
    String host,
    int port,
    String database,
    String user,
    Optional<String> password,
    PostgresTls tls) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 5432;

  public PostgresSettings {
    requireNonNull(host, "host");
    requireNonNull(database, "database");
    requireNonNull(user, "user");
    requireNonNull(password, "password");
    requireNonNull(tls, "tls");
  }

  /** Settings with TLS as when none is configured ({@link PostgresTls#DEFAULT}). */
  public PostgresSettings(
      String host, int port, String database, String user, Optional<String> password) {
    this(host, port, database, user, password, PostgresTls.DEFAULT);
  }

  /** {@code host:port/database}, for messages. */
  public String address() {
    return host + ":" + port + "/" + database;
  }

  @Override
  public String toString() {
    return "PostgresSettings[host="
        + host
        + ", port="
        + port
        + ", database="
        + database
        + ", user="
        + user
        + ", password="
        + (password.isPresent() ? "****" : "none")
        + ", tls="
        + tls.describe()
        + "]";
  }
}
