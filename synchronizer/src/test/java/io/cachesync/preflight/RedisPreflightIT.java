package io.cachesync.preflight;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import io.lettuce.core.AclSetuserArgs;
import io.lettuce.core.protocol.CommandType;
import java.util.List;
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
    return new RedisPreflight(new RedisSettings(uri)).run();
  }

  @Test
  void run_userMayRunEverything_scriptsPassAndLeaveNoKey() throws Exception {
    List<Finding> findings = runAs("everything", AclSetuserArgs.Builder.allCommands().allKeys());

    assertThat(findings).noneMatch(f -> f.status() == Finding.Status.FAILED);
    assertThat(findings).anyMatch(f -> f.message().contains("Lua scripts run"));
    assertThat(redis.keys("cachesync:preflight:*")).isEmpty();
  }

  @Test
  void run_userWithoutEvalsha_failsNamingTheGrant() throws Exception {
    List<Finding> findings =
        runAs(
            "noevalsha",
            AclSetuserArgs.Builder.allCommands().removeCommand(CommandType.EVALSHA).allKeys());

    assertThat(findings)
        .anyMatch(f -> f.message().contains("may not load or run scripts"))
        .anyMatch(f -> f.message().contains("+evalsha"));
  }

  @Test
  void run_userWithoutACommandAScriptRuns_failsNamingTheCommands() throws Exception {
    List<Finding> findings =
        runAs(
            "noexpire",
            AclSetuserArgs.Builder.allCommands().removeCommand(CommandType.EXPIRE).allKeys());

    assertThat(findings)
        .anyMatch(
            f ->
                f.message().contains("write_hash.lua failed")
                    && f.message().contains("may not run a command the script runs"));
  }
}
