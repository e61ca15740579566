package io.cachesync.bench.consumer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * Stops a process with {@code SIGSTOP} and lets it go on with {@code SIGCONT} ({@code kill}, which
 * Java cannot send itself): the warm catch-up holds a consumer still, caught up and warm, while its
 * next backlog is written.
 */
final class Pause {
  private Pause() {}

  static void stop(long pid) {
    signal("-STOP", pid);
  }

  static void resume(long pid) {
    signal("-CONT", pid);
  }

  private static void signal(String signal, long pid) {
    try {
      Process kill =
          new ProcessBuilder("kill", signal, Long.toString(pid)).redirectErrorStream(true).start();
      String output = new String(kill.getInputStream().readAllBytes()).strip();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IllegalStateException("kill " + signal + " " + pid + " failed: " + output);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while sending " + signal + " to " + pid, e);
    }
  }
}
