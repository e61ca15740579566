package io.cachesync.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** A Redis server run from the installed {@code redis-server}, without persistence. */
final class LocalRedis implements RedisServer {
  private final Path executable;
  private final Path directory;
  private final List<String> arguments;
  private final RedisTls tls;
  private int port;
  private Process process;

  private LocalRedis(Path executable, Path directory, List<String> arguments, RedisTls tls) {
    this.executable = executable;
    this.directory = directory;
    this.arguments = List.copyOf(arguments);
    this.tls = tls;
  }

  static LocalRedis create(Path executable, List<String> arguments) {
    return create(executable, arguments, null);
  }

  /** A server that speaks only TLS ({@code --port 0}) as {@code tls} says, when not null. */
  static LocalRedis create(Path executable, List<String> arguments, RedisTls tls) {
    try {
      LocalRedis server =
          new LocalRedis(executable, Files.createTempDirectory("cachesync-redis-"), arguments, tls);
      Cleanup.register(server);
      server.startOnFreePort();
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A server on {@code port} rather than on a free port the system picks ({@link RedisCluster}
   * needs ports whose cluster bus port, 10000 higher, is free as well). When it does not start
   * there, e.g. because another process took the port first, it is stopped, its folder removed, and
   * the {@link IllegalStateException} thrown, so that the caller can try another port.
   */
  static LocalRedis createOn(Path executable, List<String> arguments, int port) {
    return createOn(executable, arguments, port, null);
  }

  /**
   * As {@link #createOn(Path, List, int)}, speaking only TLS as {@code tls} says, when not null.
   */
  static LocalRedis createOn(Path executable, List<String> arguments, int port, RedisTls tls) {
    LocalRedis server;
    try {
      server =
          new LocalRedis(executable, Files.createTempDirectory("cachesync-redis-"), arguments, tls);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Cleanup.register(server);
    server.port = port;
    try {
      server.start();
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
    return server;
  }

  /** The folder the server runs in ({@code --dir}): its log and whatever it writes. */
  Path directory() {
    return directory;
  }

  private void startOnFreePort() throws IOException {
    LocalPostgres.startOnFreePort(
        free -> {
          port = free;
          start();
        });
  }

  /** Starts the server (again) on its port, empty. */
  void start() {
    try {
      // A server that was ever a replica wrote its full sync to dump.rdb despite --save '', and
      // would load it: not empty.
      Files.deleteIfExists(directory.resolve("dump.rdb"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> command = new ArrayList<>();
    command.add(executable.toString());
    command.addAll(
        tls == null ? List.of("--port", Integer.toString(port)) : tls.serverArguments(port));
    command.addAll(
        List.of(
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", directory.toString(),
            "--logfile", directory.resolve("redis.log").toString(),
            "--daemonize", "no"));
    command.addAll(arguments);
    long readyBefore = readyLines();
    try {
      process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(directory.resolve("stdout.log").toFile())
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      await("Redis on port " + port)
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(20))
          .ignoreExceptions()
          .failFast("redis-server exited", () -> !process.isAlive())
          .until(
              // Another JVM's server may have taken the port while this one was down: the answer
              // counts only once this server's own log says it listens.
              () -> readyLines() > readyBefore ? command("PING") : "",
              reply -> reply.startsWith("+PONG") || reply.startsWith("-NOAUTH"));
    } catch (org.awaitility.core.ConditionTimeoutException
        | org.awaitility.core.TerminalFailureException e) {
      process.destroyForcibly();
      throw new IllegalStateException("Redis did not start on port " + port + ": " + log(), e);
    }
  }

  /** Kills the server at once, as {@code kill -9} would; it comes back empty on {@link #start}. */
  void kill() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void restartEmpty() {
    kill();
    start();
  }

  /** Freezes the process (SIGSTOP): clients time out as if the network were cut; data is kept. */
  @Override
  public void pause() {
    signal("STOP");
  }

  /** Thaws a paused process (SIGCONT). */
  @Override
  public void resume() {
    signal("CONT");
  }

  private void signal(String name) {
    try {
      Process kill =
          new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String host() {
    return "127.0.0.1";
  }

  @Override
  public Optional<RedisTls> tls() {
    return Optional.ofNullable(tls);
  }

  @Override
  public String uri() {
    return (tls == null ? "redis://" : "rediss://") + host() + ":" + port();
  }

  @Override
  public String command(String... arguments) {
    return tls == null
        ? Resp.command(host(), port(), arguments)
        : Resp.command(tls.socketFactory(), host(), port(), arguments);
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public void close() {
    if (process != null) {
      kill();
    }
    Cleanup.delete(directory);
    Cleanup.unregister(this);
  }

  /** How many times this server's log says it listens: once per start. */
  private long readyLines() {
    Path log = directory.resolve("redis.log");
    try {
      return Files.exists(log)
          ? Files.readAllLines(log).stream()
              .filter(line -> line.contains("Ready to accept connections"))
              .count()
          : 0;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private String log() {
    try {
      Path log = directory.resolve("redis.log");
      return Files.exists(log)
          ? Files.readString(log)
          : Files.readString(directory.resolve("stdout.log"));
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public String toString() {
    return "Redis at " + host() + ":" + port;
  }
}
