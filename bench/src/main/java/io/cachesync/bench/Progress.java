package io.cachesync.bench;

import java.io.PrintStream;

/** Progress lines on stderr, each with the time since the run started, while the table waits. */
final class Progress {
  private final PrintStream out;
  private final long started = System.nanoTime();

  Progress(PrintStream out) {
    this.out = out;
  }

  void say(String format, Object... arguments) {
    out.printf("[%6.1fs] %s%n", seconds(), String.format(format, arguments));
    out.flush();
  }

  double seconds() {
    return (System.nanoTime() - started) / 1e9;
  }
}
