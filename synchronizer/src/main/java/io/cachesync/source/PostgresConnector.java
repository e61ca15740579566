package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.PostgresSettings;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** Opens plain JDBC connections to the configured PostgreSQL database. */
public final class PostgresConnector {
  private static final int CONNECT_TIMEOUT_SECONDS = 10;

  private final PostgresSettings settings;

  public PostgresConnector(PostgresSettings settings) {
    this.settings = settings;
  }

  public String jdbcUrl() {
    return "jdbc:postgresql://"
        + settings.host()
        + ":"
        + settings.port()
        + "/"
        + settings.database();
  }

  /**
   * Opens a connection.
   *
   * @param purpose shown as the connection's {@code application_name} in {@code pg_stat_activity}
   * @throws ServerUnreachableException when no connection could be made at all (refused, timed out,
   *     unknown host)
   * @throws SQLException when the server answered but refused the login or the database
   */
  public Connection open(String purpose) throws ServerUnreachableException, SQLException {
    Properties properties = new Properties();
    properties.setProperty("user", settings.user());
    settings.password().ifPresent(password -> properties.setProperty("password", password));
    properties.setProperty("ApplicationName", "cachesync " + purpose);
    properties.setProperty("connectTimeout", Integer.toString(CONNECT_TIMEOUT_SECONDS));
    properties.setProperty("socketTimeout", "0");
    try {
      return DriverManager.getConnection(jdbcUrl(), properties);
    } catch (SQLException e) {
      if (e.getSQLState() != null && e.getSQLState().startsWith("08")) {
        throw new ServerUnreachableException(
            "PostgreSQL", settings.host() + ":" + settings.port(), causeOf(e));
      }
      throw e;
    }
  }

  private static String causeOf(SQLException e) {
    Throwable cause = e.getCause();
    String message = e.getMessage();
    if (cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())) {
      message = message + " (" + cause.getMessage() + ")";
    }
    return message;
  }
}
