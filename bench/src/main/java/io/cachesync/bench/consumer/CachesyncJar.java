package io.cachesync.bench.consumer;

import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.MemoryProbe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The cachesync distribution under test ({@code cachesync.jar}): its daemon, its resync job and its
 * verify command, each in a JVM of its own with the heap {@value Jvm#HEAP}.
 */
public final class CachesyncJar {
  private final Path jar;
  private final Path logs;

  /** A command's exit code and output, how long it ran, and its memory. */
  public record Outcome(int exitCode, String output, Duration took, Memory memory) {}

  public CachesyncJar(Path jar, Path logs) {
    this.jar = jar;
    this.logs = logs;
  }

  public DaemonRun run(Path config, String logName) {
    return DaemonRun.start(jar, config, logs.resolve(logName + ".log"));
  }

  /**
   * {@code cachesync verify --config F [--sample N]}: exit code 0 when every key (or every sampled
   * row and key) equals its row.
   *
   * @param sample rows and keys per table to check at random; 0 for all of them
   */
  public Outcome verify(Path config, int sample, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    List<String> arguments = new ArrayList<>(List.of("verify", "--config", config.toString()));
    if (sample > 0) {
      arguments.addAll(List.of("--sample", Integer.toString(sample)));
    }
    return command(arguments, "verify", timeout);
  }

  /** {@code cachesync resync --config F --quiet}. */
  public Outcome resync(Path config, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    return command(List.of("resync", "--config", config.toString(), "--quiet"), "resync", timeout);
  }

  private Outcome command(List<String> arguments, String name, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    Path output = Files.createTempFile(logs, name + "-", ".log");
    List<String> command = Jvm.command("WARN");
    command.addAll(List.of("-jar", jar.toString()));
    command.addAll(arguments);
    long started = System.nanoTime();
    Process process =
        ChildProcesses.track(
            new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start());
    try (MemoryProbe memory = MemoryProbe.attach(process.pid())) {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new TimeoutException("cachesync " + name + " did not finish within " + timeout);
      }
      return new Outcome(
          process.exitValue(),
          Files.readString(output, StandardCharsets.UTF_8),
          Duration.ofNanos(System.nanoTime() - started),
          memory.peak());
    }
  }
}
