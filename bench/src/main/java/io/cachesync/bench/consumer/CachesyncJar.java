package io.cachesync.bench.consumer;

import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.MemoryProbe;
import io.cachesync.bench.measure.ProcessCpu;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The cachesync distribution under test ({@code cachesync.jar}): its daemon, its resync job and its
 * verify command, each in a JVM of its own with the heap {@value Jvm#HEAP}.
 */
public final class CachesyncJar {
  private final Path jar;
  private final Path logs;

  /**
   * A command's exit code and output, how long it ran, its memory and its CPU time.
   *
   * @param finished false when the command was stopped at its time limit ({@link #verifyWithin});
   *     the exit code is then -1
   * @param cpu the CPU time of the command's JVM up to its last sample, at most {@value
   *     #CPU_POLL_MILLIS} ms before its exit (JVM start included); empty when /proc could not be
   *     read
   * @param startNanos the command's launch ({@link System#nanoTime()})
   * @param endNanos its exit, or the moment it was stopped
   */
  public record Outcome(
      boolean finished,
      int exitCode,
      String output,
      Duration took,
      Memory memory,
      Optional<Duration> cpu,
      long startNanos,
      long endNanos) {}

  private static final long CPU_POLL_MILLIS = 10;

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
    return finishedWithin(command(arguments, "verify", timeout), "verify", timeout);
  }

  /**
   * {@code cachesync verify --config F} of every row and key, stopped (and {@link
   * Outcome#finished()} false) when it takes longer than {@code limit}.
   */
  public Outcome verifyWithin(Path config, Duration limit)
      throws IOException, InterruptedException {
    return command(List.of("verify", "--config", config.toString()), "verify", limit);
  }

  /** {@code cachesync resync --config F --quiet}. */
  public Outcome resync(Path config, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    return finishedWithin(
        command(List.of("resync", "--config", config.toString(), "--quiet"), "resync", timeout),
        "resync",
        timeout);
  }

  private static Outcome finishedWithin(Outcome outcome, String name, Duration timeout)
      throws TimeoutException {
    if (!outcome.finished()) {
      throw new TimeoutException("cachesync " + name + " did not finish within " + timeout);
    }
    return outcome;
  }

  /**
   * Runs the command, reading its JVM's CPU time every {@value #CPU_POLL_MILLIS} ms while it runs
   * (a process's /proc entry goes with it); kills it after {@code timeout}.
   */
  private Outcome command(List<String> arguments, String name, Duration timeout)
      throws IOException, InterruptedException {
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
    ProcessCpu cpu = ProcessCpu.ofThisMachineOrAssumed();
    Optional<Duration> used = Optional.empty();
    long deadline = started + timeout.toNanos();
    try (MemoryProbe memory = MemoryProbe.attach(process.pid())) {
      while (!process.waitFor(CPU_POLL_MILLIS, TimeUnit.MILLISECONDS)) {
        Optional<Duration> now = cpu.used(process.pid());
        if (now.isPresent()) {
          used = now;
        }
        if (System.nanoTime() > deadline) {
          Memory peak = memory.peak();
          process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
          long stopped = System.nanoTime();
          return new Outcome(
              false,
              -1,
              Files.readString(output, StandardCharsets.UTF_8),
              Duration.ofNanos(stopped - started),
              peak,
              used,
              started,
              stopped);
        }
      }
      long ended = System.nanoTime();
      return new Outcome(
          true,
          process.exitValue(),
          Files.readString(output, StandardCharsets.UTF_8),
          Duration.ofNanos(ended - started),
          memory.peak(),
          used,
          started,
          ended);
    }
  }
}
