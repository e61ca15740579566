package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One run of an installed program by a test fixture (initdb, pg_ctl, redis-cli), its output and
 * errors together; the caller says what a failure means.
 *
 * @param ended whether it exited within the time given (it was killed otherwise)
 * @param exitCode its exit code; -1 when it did not end
 * @param output what it printed
 */
record ProcessRun(boolean ended, int exitCode, String output) {
  static ProcessRun of(List<String> command, Duration timeout) {
    try {
      Path output = Files.createTempFile("cachesync-command-", ".log");
      try {
        Process process =
            new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        boolean ended = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (!ended) {
          process.destroyForcibly();
        }
        return new ProcessRun(ended, ended ? process.exitValue() : -1, Files.readString(output));
      } finally {
        Files.deleteIfExists(output);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted: " + String.join(" ", command), e);
    }
  }

  boolean succeeded() {
    return ended && exitCode == 0;
  }
}
