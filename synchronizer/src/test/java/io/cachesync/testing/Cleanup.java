package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Stops every server still running when the test JVM exits, so that a failed or aborted test leaves
 * no process or folder behind.
 */
final class Cleanup {
  private static final Set<AutoCloseable> OPEN = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  for (AutoCloseable server : Set.copyOf(OPEN)) {
                    try {
                      server.close();
                    } catch (Exception e) {
                      System.err.println("could not stop " + server + ": " + e);
                    }
                  }
                },
                "cachesync-test-cleanup"));
  }

  private Cleanup() {}

  static void register(AutoCloseable server) {
    OPEN.add(server);
  }

  static void unregister(AutoCloseable server) {
    OPEN.remove(server);
  }

  static void delete(Path directory) {
    if (!Files.exists(directory)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(directory)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not remove " + directory, e);
    }
  }
}
