package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.testing.CommandRun;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code postgres.passwordFile} and {@code redis.passwordFile} log in to real servers: a role that
 * must give its password (scram-sha-256) and a Redis ACL user whose password holds every character
 * a URI would misread. The login outcome is what tells a right password from a wrong one.
 */
class PasswordFileIT {
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  /** The Redis ACL user's password: every delimiter of a URI, a space and a percent sign. */
  private static final String REDIS_PASSWORD = "Acl pw@x:y/z#q?r%25 ${v}";

  private static PostgresServer postgres;
  private static RedisServer redis;
  private static String database;

  @TempDir Path directory;

  @BeforeAll
  static void startServers() {
    postgres = TestServers.sharedPostgres();
    database = postgres.createDatabase("passwordfile");
    postgres.execute(
        database,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text)",
        "GRANT SELECT ON users TO " + PostgresServer.PASSWORD_ROLE);
    redis = TestServers.redis();
    redis.command("ACL", "SETUSER", "cs", "on", ">" + REDIS_PASSWORD, "~*", "&*", "+@all");
  }

  @AfterAll
  static void stopServers() {
    redis.close();
  }

  @Test
  void validate_rightPasswordsInPrivateFiles_logsInToBothServersWithoutAWarning()
      throws IOException {
    Path config =
        config(PostgresServer.PASSWORD_ROLE_PASSWORD + "\n", REDIS_PASSWORD + "\n", "rw-------");

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    // The role may not replicate: the preflight fails after the login it proves.
    assertThat(run.out())
        .contains("FAIL  postgres: user cachesync_pw may not replicate")
        .doesNotContain("refused the login")
        .contains("redis redis://cs:****@127.0.0.1:" + redis.port())
        .containsPattern("ok    redis: Redis 7\\.")
        .doesNotContain("warning:");
    assertNoSecretIn(run);
  }

  @Test
  void validate_filesOthersMayRead_warnsAndStillLogsIn() throws IOException {
    Path config =
        config(PostgresServer.PASSWORD_ROLE_PASSWORD + "\n", REDIS_PASSWORD + "\n", "rw-r--r--");

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.out())
        .contains(
            "warning: "
                + config
                + ":6:3: postgres.passwordFile: "
                + directory.resolve("pg.secret")
                + " may be read by its group and every user (mode 0644); restrict it to the user"
                + " that runs cachesync: chmod 600 "
                + directory.resolve("pg.secret"))
        .contains("redis.passwordFile: " + directory.resolve("redis.secret") + " may be read by")
        .contains("FAIL  postgres: user cachesync_pw may not replicate")
        .containsPattern("ok    redis: Redis 7\\.");
    assertNoSecretIn(run);
  }

  @Test
  void validate_wrongPasswordsInFiles_areRefusedByBothServers() throws IOException {
    Path config = config("Wrong-pg-pw-11\n", "Wrong-redis-pw-12\n", "rw-------");

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains("refused the login of user cachesync_pw")
        .containsPattern("FAIL  redis: .*(WRONGPASS|invalid username-password)");
    assertThat(run.output()).doesNotContain("Wrong-pg-pw-11").doesNotContain("Wrong-redis-pw-12");
  }

  @Test
  void validate_requirepassPasswordHoldingAColonInAFile_logsInWithoutAUser() throws IOException {
    String password = "Rq:pw@x/y#z";
    try (RedisServer locked = TestServers.redis("--requirepass", password)) {
      Path config =
          config(PostgresServer.PASSWORD_ROLE_PASSWORD + "\n", password + "\n", "rw-------")
              .resolveSibling("requirepass.yml");
      Files.writeString(
          config,
          Files.readString(config.resolveSibling("synchronizer.yml"))
              .replace(
                  "redis://cs@127.0.0.1:" + redis.port(), "redis://127.0.0.1:" + locked.port()));

      CommandRun run = CommandRun.of("validate", "--config", config.toString());

      assertThat(run.out())
          .contains("redis redis://:****@127.0.0.1:" + locked.port())
          .containsPattern("ok    redis: Redis 7\\.");
      assertThat(run.output()).doesNotContain("Rq:pw").doesNotContain("Rq%3Apw");
    }
  }

  private void assertNoSecretIn(CommandRun run) {
    assertThat(run.output())
        .doesNotContain(PostgresServer.PASSWORD_ROLE_PASSWORD)
        .doesNotContain("Acl pw")
        .doesNotContain("Acl%20pw");
  }

  private Path config(String pgPassword, String redisPassword, String mode) throws IOException {
    write("pg.secret", pgPassword, mode);
    write("redis.secret", redisPassword, mode);
    Files.writeString(directory.resolve("mapping.yml"), MAPPING, StandardCharsets.UTF_8);
    Path config = directory.resolve("synchronizer.yml");
    Files.writeString(
        config,
        "name: shop\n"
            + "postgres:\n"
            + "  port: "
            + postgres.port()
            + "\n  database: "
            + database
            + "\n  user: "
            + PostgresServer.PASSWORD_ROLE
            + "\n  passwordFile: pg.secret\n"
            + "redis:\n"
            + "  uri: redis://cs@127.0.0.1:"
            + redis.port()
            + "\n  passwordFile: redis.secret\n"
            + "mapping: mapping.yml\n"
            + "http: off\n",
        StandardCharsets.UTF_8);
    return config;
  }

  private void write(String name, String content, String mode) throws IOException {
    Path file = directory.resolve(name);
    Files.writeString(file, content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
  }
}
