package io.cachesync.bench.consumer;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The processes the benchmark started (daemons, consumers, jobs), killed when the benchmark's JVM
 * exits with any of them still running, so that an aborted run leaves nothing behind. The servers
 * are the fixtures' to stop.
 */
final class ChildProcesses {
  private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> RUNNING.stream().filter(Process::isAlive).forEach(Process::destroyForcibly),
                "bench-child-cleanup"));
  }

  private ChildProcesses() {}

  static Process track(Process process) {
    RUNNING.removeIf(p -> !p.isAlive());
    RUNNING.add(process);
    return process;
  }
}
