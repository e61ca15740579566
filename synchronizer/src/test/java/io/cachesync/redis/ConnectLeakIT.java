package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.cachesync.config.RedisSettings;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import io.lettuce.core.AclSetuserArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A failed connect leaves no client behind, whatever failed: each client has its own event loop
 * threads, so a daemon retrying its start every few seconds would pile them up.
 */
class ConnectLeakIT {
  private static RedisServer server;
  private static RedisProbe redis;
  private static String noScriptsUri;

  @BeforeAll
  static void start() {
    server = TestServers.redis();
    redis = new RedisProbe(server);
    redis
        .redis()
        .aclSetuser(
            "noscripts",
            AclSetuserArgs.Builder.on()
                .addPassword("secret")
                .allCommands()
                .removeCommand(CommandType.SCRIPT)
                .allKeys());
    noScriptsUri = server.uri().replace("redis://", "redis://noscripts:secret@");
  }

  @AfterAll
  static void stop() {
    redis.close();
    server.close();
  }

  @Test
  void writerConnect_scriptLoadRefused_leavesNoClientThreads() {
    long before = lettuceThreads();

    assertThatThrownBy(
            () -> LettuceCacheWriter.connect(new RedisSettings(noScriptsUri), "cachesync:leak:"))
        .hasMessageContaining("NOPERM");

    awaitThreadsBackTo(before);
  }

  @Test
  void inspectorConnect_scriptLoadRefused_leavesNoClientThreads() {
    long before = lettuceThreads();

    assertThatThrownBy(() -> LettuceCacheInspector.connect(new RedisSettings(noScriptsUri)))
        .hasMessageContaining("NOPERM");

    awaitThreadsBackTo(before);
  }

  @Test
  void stateStoreConnect_serverIsNotRedis_leavesNoClientThreads() throws Exception {
    try (ServerSocket notRedis = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread closer = new Thread(() -> closeEveryConnection(notRedis), "not-redis");
      closer.setDaemon(true);
      closer.start();
      long before = lettuceThreads();

      assertThatThrownBy(
          () ->
              LettuceStateStore.connect(
                  new RedisSettings("redis://127.0.0.1:" + notRedis.getLocalPort()),
                  "cachesync:leak:"));

      awaitThreadsBackTo(before);
    }
  }

  private static void closeEveryConnection(ServerSocket listener) {
    while (!listener.isClosed()) {
      try (Socket client = listener.accept()) {
        client.getOutputStream().write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes());
      } catch (IOException e) {
        return;
      }
    }
  }

  private static long lettuceThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(thread -> thread.getName().startsWith("lettuce-"))
        .count();
  }

  private static void awaitThreadsBackTo(long before) {
    await("the failed client's threads ending")
        .atMost(Duration.ofSeconds(15))
        .until(() -> lettuceThreads() <= before);
  }
}
