package io.cachesync.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The Redis fixture restarts a server on the port it had. Integration tests run in two JVMs at
 * once, so while a server is down another JVM's server may take that port: the restart must then
 * fail, not hand the test a server that is not its own.
 */
class LocalRedisIT {
  @Test
  void start_anotherServerTookThePort_fails() throws IOException, InterruptedException {
    // The server binds its port a second after it is started, as a slow start would: the foreign
    // server answers in that second, so a fixture that took any answer for its own would pass.
    Path slowStart = Files.createTempFile("slow-redis-server", ".sh");
    Files.writeString(slowStart, "#!/bin/sh\nsleep 1\nexec redis-server \"$@\"\n");
    slowStart.toFile().setExecutable(true);
    slowStart.toFile().deleteOnExit();
    LocalRedis own = LocalRedis.create(slowStart, List.of());
    own.command("SET", "own", "1");
    own.kill();
    Path directory = Files.createTempDirectory("foreign-redis");
    Process foreign =
        new ProcessBuilder(
                "redis-server",
                "--port",
                Integer.toString(own.port()),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory.toString())
            .redirectErrorStream(true)
            .redirectOutput(directory.resolve("stdout.log").toFile())
            .start();
    try {
      await("the foreign server")
          .atMost(Duration.ofSeconds(15))
          .ignoreExceptions()
          .until(
              () -> Resp.command(own.host(), own.port(), "PING"),
              reply -> reply.startsWith("+PONG"));

      assertThatThrownBy(own::start)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("Redis did not start on port " + own.port());
    } finally {
      foreign.destroyForcibly();
      foreign.waitFor(10, TimeUnit.SECONDS);
    }

    own.start();
    assertThat(own.command("PING")).startsWith("+PONG");
    assertThat(own.command("DBSIZE")).isEqualTo(":0");
  }
}
