package io.cachesync.preflight;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.PostgresSettings;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.redis.RedisRights;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import io.lettuce.core.AclSetuserArgs;
import io.lettuce.core.protocol.CommandType;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Redis preflight runs the writer's scripts once, as the configured user. */
class RedisPreflightIT {
  private static RedisServer server;
  private static RedisProbe redis;

  @BeforeAll
  static void start() {
    server = TestServers.redis();
    redis = new RedisProbe(server);
  }

  @AfterAll
  static void stop() {
    redis.close();
    server.close();
  }

  private static List<Finding> runAs(String user, AclSetuserArgs rights) throws Exception {
    redis.redis().aclSetuser(user, rights.on().addPassword("secret"));
    String uri = server.uri().replace("redis://", "redis://" + user + ":secret@");
    SynchronizerSettings settings =
        new SynchronizerSettings(
            "it",
            new PostgresSettings("127.0.0.1", 5432, "it", "it", Optional.empty()),
            new RedisSettings(uri),
            Path.of("mapping.yml"));
    return new RedisPreflight(settings, RedisRights.of(settings, List.of()), List.of()).run();
  }

  @Test
  void run_userMayRunEverything_scriptsPassAndLeaveNoKey() throws Exception {
    List<Finding> findings = runAs("everything", AclSetuserArgs.Builder.allCommands().allKeys());

    assertThat(findings).noneMatch(f -> f.status() == Finding.Status.FAILED);
    assertThat(findings).anyMatch(f -> f.message().contains("Lua scripts run"));
    assertThat(redis.keys("cachesync:it:preflight*")).isEmpty();
  }

  @Test
  void run_userWithoutEvalsha_failsNamingTheGrant() throws Exception {
    List<Finding> findings =
        runAs(
            "noevalsha",
            AclSetuserArgs.Builder.allCommands().removeCommand(CommandType.EVALSHA).allKeys());

    assertThat(findings)
        .anyMatch(
            f ->
                f.failed()
                    && f.message().startsWith("ACL user noevalsha lacks EVALSHA (")
                    && f.message().contains("add +evalsha")
                    && f.message().contains("cachesync grants --redis"));
  }

  @Test
  void run_userWithoutACommandAScriptRuns_failsNamingTheCommands() throws Exception {
    List<Finding> findings =
        runAs(
            "noexpire",
            AclSetuserArgs.Builder.allCommands().removeCommand(CommandType.EXPIRE).allKeys());

    assertThat(findings)
        .anyMatch(f -> f.failed() && f.message().startsWith("ACL user noexpire lacks EXPIRE ("))
        .anyMatch(f -> f.message().contains("Lua scripts were not tried"));
  }
}
