package io.cachesync.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/** A throwaway PostgreSQL server for one test class, or shared by the test JVM. */
public interface PostgresServer extends AutoCloseable {

  /** The superuser every server has; it logs in without a password from 127.0.0.1. */
  String SUPERUSER = "postgres";

  /** A role that must log in with {@link #PASSWORD_ROLE_PASSWORD}, for tests about secrets. */
  String PASSWORD_ROLE = "cachesync_pw";

  String PASSWORD_ROLE_PASSWORD = "Pw-never-printed-42";

  String host();

  int port();

  /** Stops the server, keeping its data, as a clean shutdown would. */
  void stop();

  /** Starts a stopped server again on the same port and data. */
  void start();

  @Override
  void close();

  default String jdbcUrl(String database) {
    return "jdbc:postgresql://" + host() + ":" + port() + "/" + database;
  }

  default Connection connect(String database) throws SQLException {
    return DriverManager.getConnection(jdbcUrl(database), SUPERUSER, "");
  }

  /** Runs statements as the superuser in {@code database}. */
  default void execute(String database, String... sql) {
    try (Connection connection = connect(database);
        Statement statement = connection.createStatement()) {
      for (String each : sql) {
        statement.execute(each);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(
          "SQL failed on " + jdbcUrl(database) + ": " + e.getMessage(), e);
    }
  }

  /** Creates a database with a name no other test uses, and returns the name. */
  default String createDatabase(String prefix) {
    String name = (prefix + "_" + Databases.NEXT.incrementAndGet()).toLowerCase();
    execute("postgres", "CREATE DATABASE " + name);
    return name;
  }

  /** Numbers databases uniquely within a test JVM. */
  final class Databases {
    static final AtomicInteger NEXT = new AtomicInteger();

    private Databases() {}
  }
}
