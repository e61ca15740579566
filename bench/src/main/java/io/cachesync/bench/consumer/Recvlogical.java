package io.cachesync.bench.consumer;

import io.cachesync.bench.measure.Drain;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code pg_recvlogical} draining a slot with {@code pgoutput} into {@code /dev/null}: what
 * PostgreSQL itself can decode and send, with a consumer that costs nothing.
 */
public final class Recvlogical {
  private final Path executable;
  private final String host;
  private final int port;
  private final String database;
  private final Path log;

  public Recvlogical(Path executable, String host, int port, String database, Path log) {
    this.executable = executable;
    this.host = host;
    this.port = port;
    this.database = database;
    this.log = log;
  }

  /**
   * Streams {@code slot} from where it was confirmed up to {@code endLsn}, and exits. Timed from
   * the process's start (it connects within milliseconds) to its exit.
   */
  public Drain drain(String slot, String publication, String endLsn, long changes, Duration timeout)
      throws IOException, InterruptedException, TimeoutException {
    long launched = System.nanoTime();
    Process process =
        ChildProcesses.track(
            new ProcessBuilder(
                    List.of(
                        executable.toString(),
                        "-h",
                        host,
                        "-p",
                        Integer.toString(port),
                        "-U",
                        "postgres",
                        "-d",
                        database,
                        "-S",
                        slot,
                        "--start",
                        "--no-loop",
                        "--endpos=" + endLsn,
                        "-f",
                        "/dev/null",
                        "-P",
                        "pgoutput",
                        "-o",
                        "proto_version=1",
                        "-o",
                        "publication_names=" + publication))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start());
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new TimeoutException("pg_recvlogical did not reach " + endLsn + " within " + timeout);
    }
    long ended = System.nanoTime();
    if (process.exitValue() != 0) {
      throw new IllegalStateException(
          "pg_recvlogical exited with " + process.exitValue() + "; see " + log);
    }
    return Drain.of(changes, launched, ended);
  }
}
