package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.PostgresSettings;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TcpProxy;
import io.cachesync.testing.TestServers;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How cachesync's own JDBC connections find their database and give up on a silent server. */
class PostgresConnectorIT {
  /** A database name holding URL syntax that, pasted into a JDBC URL, would set driver options. */
  private static final String URL_LIKE_NAME = "cs ?ApplicationName=injected&options=%41/x=1";

  private static final PostgresConnector.Timeouts SHORT =
      new PostgresConnector.Timeouts(
          Duration.ofSeconds(2), Duration.ofSeconds(3), Duration.ofSeconds(3));

  /** What the calls must return within: the timeouts above with room for a slow machine. */
  private static final Duration BOUND = Duration.ofSeconds(15);

  private static PostgresServer postgres;
  private static String database;

  @BeforeAll
  static void startServer() throws Exception {
    postgres = TestServers.sharedPostgres();
    database = postgres.createDatabase("connector");
    postgres.execute(
        "postgres",
        "DROP DATABASE IF EXISTS \"" + URL_LIKE_NAME + "\"",
        "CREATE DATABASE \"" + URL_LIKE_NAME + "\"");
    // Not postgres.execute: the fixture pastes the name into a URL.
    try (Connection connection =
            new PostgresConnector(settings(postgres.host(), postgres.port(), URL_LIKE_NAME))
                .openForShortStatements("test setup");
        Statement statement = connection.createStatement()) {
      statement.execute("CREATE TABLE users (id bigint PRIMARY KEY, name text)");
      statement.execute("INSERT INTO users VALUES (1, 'ada')");
    }
  }

  private static PostgresSettings settings(String host, int port, String database) {
    return new PostgresSettings(host, port, database, PostgresServer.SUPERUSER, Optional.empty());
  }

  @Test
  void open_databaseNameHoldingUrlSyntax_connectsToThatDatabaseWithNoInjectedProperty()
      throws Exception {
    PostgresConnector connector =
        new PostgresConnector(settings(postgres.host(), postgres.port(), URL_LIKE_NAME));

    try (Connection longRead = connector.open("test");
        Connection shortStatements = connector.openForShortStatements("test")) {
      for (Connection connection : new Connection[] {longRead, shortStatements}) {
        try (Statement statement = connection.createStatement();
            ResultSet row =
                statement.executeQuery(
                    "SELECT current_database(), current_setting('application_name')")) {
          row.next();
          assertThat(row.getString(1)).isEqualTo(URL_LIKE_NAME);
          assertThat(row.getString(2)).isEqualTo("cachesync test");
        }
      }
    }
  }

  @Test
  void verifyAndValidate_databaseNameHoldingUrlSyntax_readItsTablesAndRefuseToStream(
      @TempDir Path directory) {
    try (RedisServer redis = TestServers.redis()) {
      Path config =
          ConfigFiles.write(
              directory,
              "urlname",
              "host: 127.0.0.1\nport: "
                  + postgres.port()
                  + "\ndatabase: '"
                  + URL_LIKE_NAME
                  + "'\nuser: "
                  + PostgresServer.SUPERUSER
                  + "\n",
              redis.uri(),
              "tables:\n  - table: public.users\n    key: \"user:{id}\"\n");

      CommandRun verify = CommandRun.of("verify", "--config", config.toString());
      CommandRun validate = CommandRun.of("validate", "--config", config.toString());

      assertThat(verify.output())
          .as("verify read the table in that database")
          .contains("public.users: 1 rows checked: 1 missing");
      assertThat(validate.exitCode()).as(validate.output()).isEqualTo(2);
      assertThat(validate.out())
          .contains("FAIL  postgres: the database name '" + URL_LIKE_NAME + "' holds '?'");
    }
  }

  @Test
  void openForShortStatements_serverNeverAnswersTheLogin_failsWithinTheLoginTimeout() {
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      proxy.swallowRepliesAfter("user");
      PostgresConnector connector =
          new PostgresConnector(settings(proxy.host(), proxy.port(), database), SHORT);

      assertThatThrownBy(within(BOUND, () -> connector.openForShortStatements("slot check")))
          .isInstanceOf(ServerUnreachableException.class)
          .hasMessageStartingWith("PostgreSQL at 127.0.0.1:" + proxy.port() + " cannot be reached");
    }
  }

  @Test
  void open_serverNeverAnswersTheLogin_failsWithinTheLoginTimeout() {
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      proxy.swallowRepliesAfter("user");
      PostgresConnector connector =
          new PostgresConnector(settings(proxy.host(), proxy.port(), database), SHORT);

      assertThatThrownBy(within(BOUND, () -> connector.open("resync")))
          .isInstanceOf(ServerUnreachableException.class)
          .hasMessageStartingWith("PostgreSQL at 127.0.0.1:" + proxy.port() + " cannot be reached");
    }
  }

  @Test
  void slotCheck_repliesStopAfterTheLogin_failsWithinTheStatementTimeout() {
    try (TcpProxy proxy = new TcpProxy(postgres.host(), postgres.port())) {
      proxy.swallowRepliesAfter("pg_replication_slots");
      ReplicationSlots slots =
          new ReplicationSlots(
              new PostgresConnector(settings(proxy.host(), proxy.port(), database), SHORT));

      assertThatThrownBy(within(BOUND, () -> slots.find("cachesync_connector")))
          .isInstanceOf(SQLException.class)
          .hasRootCauseInstanceOf(SocketTimeoutException.class);
    }
  }

  @Test
  void defaultTimeouts_limitEveryWait() {
    assertThat(PostgresConnector.DEFAULT_TIMEOUTS.connect()).isPositive();
    assertThat(PostgresConnector.DEFAULT_TIMEOUTS.login()).isPositive();
    assertThat(PostgresConnector.DEFAULT_TIMEOUTS.statement())
        .isBetween(Duration.ofSeconds(10), Duration.ofMinutes(5));
  }

  /**
   * Runs {@code call}, failing the test when it has not returned or thrown within {@code bound}.
   */
  private static ThrowingCallable within(Duration bound, ThrowingCallable call) {
    return () -> assertTimeoutPreemptively(bound, () -> call.call());
  }
}
