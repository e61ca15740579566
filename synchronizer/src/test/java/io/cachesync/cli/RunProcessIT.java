package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code cachesync run} as operators run it: a separate process, stopped by a signal. */
class RunProcessIT {
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();

  private SyncHarness harness;
  private Process process;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("process");
  }

  @AfterEach
  void tearDown() {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
    }
    harness.close();
  }

  private Process run(Path config, File log) throws Exception {
    return new ProcessBuilder(
            "java", "-Xmx256m", "-jar", JAR.toString(), "run", "--config", config.toString())
        .redirectErrorStream(true)
        .redirectOutput(log)
        .start();
  }

  @Test
  void run_sigtermMidStream_finishesTheBatchExitsZeroAndLosesNothing() throws Exception {
    harness.sql(
        "CREATE TABLE events (id int PRIMARY KEY, payload text)",
        "INSERT INTO events VALUES (0, 'first')");
    String mapping = "tables:\n  - table: public.events\n    key: \"event:{id}\"\n";
    File log = Files.createTempFile("cachesync-run-", ".log").toFile();
    log.deleteOnExit();
    process = run(harness.config(mapping), log);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> harness.redis.redis().exists("event:0") == 1);

    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger inserted = new AtomicInteger();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              try (Connection connection = harness.postgres.connect(harness.database);
                  Statement statement = connection.createStatement()) {
                while (writing.get() && inserted.get() < 200_000) {
                  int id = inserted.incrementAndGet();
                  statement.execute("INSERT INTO events VALUES (" + id + ", 'payload " + id + "')");
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    await().atMost(Duration.ofSeconds(60)).until(() -> harness.redis.keys("event:*").size() > 500);

    process.destroy(); // SIGTERM

    assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("stopped within 10 s").isTrue();
    assertThat(process.exitValue()).as(Files.readString(log.toPath())).isZero();
    assertThat(Files.readString(log.toPath()))
        .contains("RUNNING -> STOPPING")
        .contains("STOPPING -> STOPPED");
    writing.set(false);
    writer.join();

    harness.start(mapping);
    int rows = inserted.get() + 1;
    await()
        .atMost(Duration.ofSeconds(120))
        .until(() -> harness.redis.keys("event:*").size() == rows);
    assertThat(harness.redis.hash("event:" + inserted.get()))
        .containsEntry("payload", "payload " + inserted.get());
  }
}
