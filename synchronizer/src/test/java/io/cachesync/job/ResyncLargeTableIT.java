package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.testing.SyncHarness;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A table of a million rows resyncs in a JVM with a small heap: memory stays flat. */
class ResyncLargeTableIT {
  private static final int ROWS = Integer.getInteger("cachesync.resync.rows", 1_000_000);
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();

  private SyncHarness harness;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("large");
  }

  @AfterEach
  void tearDown() {
    harness.close();
  }

  @Test
  void resync_millionRowsWith128MbOfHeap_loadsEveryRow() throws Exception {
    harness.sql(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz)",
        "INSERT INTO events SELECT i, 'kind ' || (i % 10), now() FROM generate_series(1, "
            + ROWS
            + ") i",
        "ANALYZE events");
    Path config = harness.config("tables:\n  - table: public.events\n    key: \"event:{id}\"\n");
    File log = Files.createTempFile("cachesync-resync-", ".log").toFile();
    log.deleteOnExit();

    Process process =
        new ProcessBuilder(
                "java",
                "-Xmx128m",
                "-jar",
                JAR.toString(),
                "resync",
                "--config",
                config.toString(),
                "--quiet")
            .redirectErrorStream(true)
            .redirectOutput(log)
            .start();

    assertThat(process.waitFor(10, TimeUnit.MINUTES)).as("finished").isTrue();
    String output = Files.readString(log.toPath());
    assertThat(process.exitValue()).as(output).isZero();
    System.out.println(
        output.lines().filter(line -> line.startsWith("resync done")).findFirst().orElse(output));
    assertThat(output).doesNotContain("OutOfMemoryError");
    assertThat(harness.redis.redis().dbsize()).isGreaterThanOrEqualTo(ROWS);
    assertThat(harness.redis.hash("event:" + ROWS)).containsEntry("kind", "kind " + (ROWS % 10));
  }
}
