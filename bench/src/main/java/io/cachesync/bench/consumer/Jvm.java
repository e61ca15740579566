package io.cachesync.bench.consumer;

import java.util.ArrayList;
import java.util.List;

/** How the benchmark starts the JVMs it measures: all alike, so that they compare. */
final class Jvm {
  /** The heap every measured JVM gets: the daemon's, and the reference consumers'. */
  static final String HEAP = "-Xmx256m";

  private Jvm() {}

  /** {@code java} of the running JVM, so that every process runs the same Java. */
  static String java() {
    return ProcessHandle.current().info().command().orElse("java");
  }

  /** The start of a command line: java, the heap, the log level. */
  static List<String> command(String logLevel) {
    return new ArrayList<>(List.of(java(), HEAP, "-DCACHESYNC_LOG_LEVEL=" + logLevel));
  }
}
