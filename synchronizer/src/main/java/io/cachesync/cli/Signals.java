package io.cachesync.cli;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT handling. A shutdown hook cannot choose the exit code (the JVM exits with 143
 * after SIGTERM), so the daemon handles the signals itself, stops cleanly and exits 0.
 */
final class Signals {
  private Signals() {}

  static void onTermination(Runnable action) {
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(new Signal(name), signal -> action.run());
    }
  }
}
