package io.cachesync.bench.consumer;

import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.MemoryProbe;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One {@code cachesync run} process, from the jar as operators run it, with its memory followed
 * from start to stop. Its log goes to a file.
 */
public final class DaemonRun implements AutoCloseable {
  private static final Pattern ENDPOINT =
      Pattern.compile("Metrics on http://[^/\\s]*:([0-9]+)/metrics");

  private final Process process;
  private final MemoryProbe memory;
  private final Path log;

  private DaemonRun(Process process, Path log) {
    this.process = process;
    this.log = log;
    this.memory = MemoryProbe.attach(process.pid());
  }

  static DaemonRun start(Path jar, Path config, Path log) {
    List<String> command = Jvm.command("INFO");
    command.addAll(List.of("-jar", jar.toString(), "run", "--config", config.toString()));
    try {
      Process process =
          ChildProcesses.track(
              new ProcessBuilder(command)
                  .redirectErrorStream(true)
                  .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                  .start());
      return new DaemonRun(process, log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public boolean alive() {
    return process.isAlive();
  }

  public long pid() {
    return process.pid();
  }

  /** Stops the process where it is ({@code SIGSTOP}), until {@link #resume()}. */
  public void pause() {
    Pause.stop(process.pid());
  }

  /** Lets the process go on ({@code SIGCONT}) and returns {@link System#nanoTime()} then. */
  public long resume() {
    Pause.resume(process.pid());
    return System.nanoTime();
  }

  /**
   * The port of the daemon's HTTP endpoint, from the line it logs when the endpoint listens; empty
   * until then, and with {@code http: off}.
   */
  public OptionalInt httpPort() {
    try {
      return httpPort(Files.readString(log));
    } catch (IOException e) {
      return OptionalInt.empty();
    }
  }

  /** The port in the last "Metrics on http://HOST:PORT/metrics" line of {@code log}. */
  static OptionalInt httpPort(String log) {
    Matcher line = ENDPOINT.matcher(log);
    OptionalInt port = OptionalInt.empty();
    while (line.find()) {
      port = OptionalInt.of(Integer.parseInt(line.group(1)));
    }
    return port;
  }

  /**
   * Reads the peak memory, then stops the daemon with SIGTERM, as operators do, and waits for its
   * exit.
   *
   * @throws IllegalStateException when it does not exit 0 within 30 seconds
   */
  public Memory stop() throws InterruptedException {
    Memory peak = memory.peak();
    memory.close();
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IllegalStateException("the daemon did not stop within 30 s; see " + log);
    }
    if (process.exitValue() != 0) {
      throw new IllegalStateException(
          "the daemon exited with " + process.exitValue() + " on SIGTERM; see " + log);
    }
    return peak;
  }

  /** The daemon's memory while it drained {@code [from, to]} ({@link System#nanoTime()}). */
  public Memory memoryBetween(long from, long to) {
    return memory.peakBetween(from, to);
  }

  /** Whether the daemon's log, over this run, contains {@code text}. */
  public boolean logged(String text) {
    try {
      return Files.readString(log).contains(text);
    } catch (IOException e) {
      return false;
    }
  }

  /** The daemon's whole log so far. */
  public String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "";
    }
  }

  /** The last lines of the daemon's log, for error messages. */
  public String tail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  @Override
  public void close() {
    memory.close();
    if (process.isAlive()) {
      process.destroyForcibly();
    }
  }
}
