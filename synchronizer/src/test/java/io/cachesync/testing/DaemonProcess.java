package io.cachesync.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code cachesync run} as operators run it: the built jar in its own JVM, so that a test can kill
 * it with SIGKILL (nothing flushed, nothing cleaned up) or stop it with SIGTERM. Its output goes to
 * a log file that every start appends to.
 */
public final class DaemonProcess implements AutoCloseable {
  private static final Path JAR = Path.of("target", "cachesync.jar").toAbsolutePath();

  private final List<String> command;
  private final Map<String, String> environment;
  private final Path log;
  private final List<ProcessHandle> leftovers = new ArrayList<>();
  private Process process;

  public DaemonProcess(Path config, String... jvmOptions) {
    this(jarCommand(config, List.of(jvmOptions)), Map.of());
  }

  private DaemonProcess(List<String> command, Map<String, String> environment) {
    this.command = List.copyOf(command);
    this.environment = Map.copyOf(environment);
    try {
      this.log = Files.createTempFile("cachesync-daemon-", ".log");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The daemon started by another command than {@code java -jar}, e.g. a container image's
   * entrypoint, with extra environment variables.
   */
  public static DaemonProcess of(List<String> command, Map<String, String> environment) {
    return new DaemonProcess(command, environment);
  }

  /**
   * Another {@code cachesync} command than {@code run} in its own JVM, e.g. {@code verify} with JVM
   * options of its own; {@link #awaitExit} and {@link #log} give its outcome.
   */
  public static DaemonProcess command(List<String> jvmOptions, String... arguments) {
    return new DaemonProcess(jarCommand(jvmOptions, arguments), Map.of());
  }

  private static List<String> jarCommand(Path config, List<String> jvmOptions) {
    return jarCommand(jvmOptions, "run", "--config", config.toString());
  }

  private static List<String> jarCommand(List<String> jvmOptions, String... arguments) {
    List<String> command = new ArrayList<>(List.of("java", "-Xmx256m"));
    command.addAll(jvmOptions);
    command.addAll(List.of("-jar", JAR.toString()));
    command.addAll(List.of(arguments));
    return command;
  }

  /** Starts the daemon; it runs its preflight and loads or resumes on its own. */
  public DaemonProcess start() {
    try {
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      builder.environment().putAll(environment);
      process = builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return this;
  }

  /**
   * SIGKILL, as {@code kill -9}: the batch in flight and unflushed offsets are left as they are.
   */
  public void kill() {
    if (process != null) {
      process.destroyForcibly();
      waitFor(Duration.ofSeconds(10));
    }
  }

  /** SIGSTOP, as a long GC pause or {@code kill -STOP}: the process holds on to everything. */
  public void pause() {
    signal("STOP");
  }

  /** SIGCONT: the paused process goes on where it was. */
  public void resume() {
    signal("CONT");
  }

  private void signal(String name) {
    try {
      Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid())).start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill -" + name + " " + pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** SIGTERM; returns the exit code, or -1 when the process did not exit in time. */
  public int terminate(Duration timeout) {
    // A command that did not exec the JVM leaves it behind as an orphan: close() kills it.
    process.descendants().forEach(leftovers::add);
    process.destroy();
    return waitFor(timeout) ? process.exitValue() : -1;
  }

  /**
   * Waits for the daemon to exit on its own; returns its exit code, or -1 when it still runs after
   * {@code timeout}.
   */
  public int awaitExit(Duration timeout) {
    return waitFor(timeout) ? process.exitValue() : -1;
  }

  private boolean waitFor(Duration timeout) {
    try {
      return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  public boolean alive() {
    return process != null && process.isAlive();
  }

  public long pid() {
    return process.pid();
  }

  /** Everything the daemon printed, over all its starts. */
  public String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the log contains {@code text}; fails early when the process exits. */
  public void awaitLog(String text, Duration timeout) {
    await("'" + text + "' in the daemon's log")
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(50))
        .failFast("the daemon exited:\n" + tail(), () -> !alive())
        .until(() -> log().contains(text));
  }

  /**
   * The port of the daemon's HTTP endpoint, from the line its last start logged (the tests' config
   * asks for a free port); waits for it.
   */
  public int httpPort(Duration timeout) {
    String marker = "Metrics on http://";
    awaitLog(marker, timeout);
    String log = log();
    String rest = log.substring(log.lastIndexOf(marker) + marker.length());
    String address = rest.substring(0, rest.indexOf("/metrics"));
    return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
  }

  /** How many times the log, over all starts, contains {@code text}. */
  public int count(String text) {
    String log = log();
    int count = 0;
    for (int at = log.indexOf(text); at >= 0; at = log.indexOf(text, at + text.length())) {
      count++;
    }
    return count;
  }

  /**
   * The log's lines that say what the daemon decided (warnings, errors, TRUNCATEs, reloads), the
   * last {@code count}: a post-mortem's starting point that fits into a test's failure message.
   */
  public String decisions(int count) {
    List<String> lines =
        log()
            .lines()
            .filter(
                line ->
                    line.contains(" WARN ")
                        || line.contains(" ERROR ")
                        || line.contains("TRUNCATE")
                        || line.contains("Reload"))
            .toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - count), lines.size()));
  }

  /** The last lines of the log, for failure messages. */
  public String tail() {
    List<String> lines = log().lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
  }

  @Override
  public void close() {
    if (alive()) {
      resume();
      kill();
    }
    leftovers.forEach(ProcessHandle::destroyForcibly);
    try {
      Files.deleteIfExists(log);
    } catch (IOException e) {
      // A leftover temporary file is harmless.
    }
  }
}
