package io.cachesync.bench.measure;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Holds processes to a share of one core while it is open: each in a control group of its own with
 * a CPU quota (cgroup v2's {@code cpu.max}, or v1's {@code cpu.cfs_quota_us}), over a 10 ms period
 * so that a held process waits at most a few milliseconds at a time. Closing moves each back to the
 * group it was in and removes the groups; so does the JVM's exit, if the benchmark is stopped while
 * it holds them.
 *
 * <p>Written here rather than taken from a library: no maintained Java library manages control
 * groups, and this is a handful of file writes.
 */
public final class CpuQuota implements AutoCloseable {
  private static final Path ROOT = Path.of("/sys/fs/cgroup");
  private static final int PERIOD_MICROS = 10_000;

  /** How a control-group hierarchy takes a quota. */
  private record Hierarchy(Path root, boolean v2) {}

  private final Hierarchy hierarchy;
  private final List<Path> groups = new ArrayList<>();

  /** Each process held, and the group it was in. */
  private final java.util.Map<Long, Path> pids = new java.util.LinkedHashMap<>();

  private final Thread onExit = new Thread(this::closeQuietly, "cachesync-bench-cpu-quota");

  private CpuQuota(Hierarchy hierarchy) {
    this.hierarchy = hierarchy;
  }

  /**
   * The machine's writable CPU controller, or why there is none (not root, no cgroup file system,
   * no cpu controller): the benchmark then skips what needs it and says so.
   */
  public static Optional<String> unavailable() {
    return hierarchy().isPresent()
        ? Optional.empty()
        : Optional.of(
            "no writable cgroup CPU controller under " + ROOT + " (run as root on Linux)");
  }

  private static Optional<Hierarchy> hierarchy() {
    Path v1 = ROOT.resolve("cpu");
    if (Files.isWritable(v1.resolve("cgroup.procs"))
        && Files.exists(v1.resolve("cpu.cfs_quota_us"))) {
      return Optional.of(new Hierarchy(v1, false));
    }
    try {
      Path controllers = ROOT.resolve("cgroup.subtree_control");
      if (Files.isWritable(ROOT.resolve("cgroup.procs"))
          && Files.exists(controllers)
          && List.of(Files.readString(controllers).trim().split(" ")).contains("cpu")) {
        return Optional.of(new Hierarchy(ROOT, true));
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }

  /**
   * Holds each of {@code pids} (every thread of it) to {@code share} of one core, each on its own.
   *
   * @param share of one core, in (0, 1]
   * @throws IOException when a group cannot be made or a process moved; what was done is undone
   */
  public static CpuQuota hold(List<Long> pids, double share) throws IOException {
    if (share <= 0 || share > 1) {
      throw new IllegalArgumentException("share " + share + " not in (0, 1]");
    }
    Hierarchy hierarchy =
        hierarchy().orElseThrow(() -> new IOException(unavailable().orElseThrow()));
    long quotaMicros = Math.round(PERIOD_MICROS * share);
    if (quotaMicros < 1_000) {
      // The kernel takes no quota under 1 ms.
      throw new IllegalArgumentException(
          "share " + share + " is below the 10% a 10 ms period allows at least");
    }
    CpuQuota quota = new CpuQuota(hierarchy);
    Runtime.getRuntime().addShutdownHook(quota.onExit);
    try {
      for (long pid : pids) {
        Path group =
            hierarchy
                .root()
                .resolve("cachesync-bench-" + ProcessHandle.current().pid() + "-" + pid);
        Files.createDirectories(group);
        quota.groups.add(group);
        if (hierarchy.v2()) {
          Files.writeString(group.resolve("cpu.max"), quotaMicros + " " + PERIOD_MICROS);
        } else {
          Files.writeString(group.resolve("cpu.cfs_period_us"), Integer.toString(PERIOD_MICROS));
          Files.writeString(group.resolve("cpu.cfs_quota_us"), Long.toString(quotaMicros));
        }
        Path was = quota.groupOf(pid);
        Files.writeString(group.resolve("cgroup.procs"), Long.toString(pid));
        quota.pids.put(pid, was);
      }
      return quota;
    } catch (IOException | RuntimeException e) {
      try {
        quota.close();
      } catch (IOException | RuntimeException undo) {
        e.addSuppressed(undo);
      }
      throw e;
    }
  }

  /**
   * The group of this hierarchy {@code pid} is in, from {@code /proc/<pid>/cgroup}: the line of the
   * cpu controller (v1) or the unified one ({@code 0::}, v2); the root when none says.
   */
  private Path groupOf(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"))) {
      String[] parts = line.split(":", 3);
      if (parts.length < 3) {
        continue;
      }
      boolean cpu =
          hierarchy.v2()
              ? parts[0].equals("0") && parts[1].isEmpty()
              : List.of(parts[1].split(",")).contains("cpu");
      if (cpu) {
        return hierarchy.root().resolve(parts[2].replaceFirst("^/", ""));
      }
    }
    return hierarchy.root();
  }

  /** Moves the processes back to the groups they were in and removes the groups. */
  @Override
  public void close() throws IOException {
    IOException failed = null;
    for (java.util.Map.Entry<Long, Path> held : pids.entrySet()) {
      long pid = held.getKey();
      try {
        Files.writeString(held.getValue().resolve("cgroup.procs"), Long.toString(pid));
      } catch (IOException e) {
        if (ProcessHandle.of(pid).isPresent()) {
          failed = failed == null ? e : failed;
        } // else it exited, and left its group empty
      }
    }
    pids.clear();
    for (Path group : groups) {
      try {
        Files.deleteIfExists(group);
      } catch (IOException e) {
        failed = failed == null ? e : failed;
      }
    }
    groups.clear();
    try {
      Runtime.getRuntime().removeShutdownHook(onExit);
    } catch (IllegalStateException e) {
      // The JVM is exiting: this is the hook.
    }
    if (failed != null) {
      throw failed;
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (IOException e) {
      System.err.println("bench: could not undo the CPU quota: " + e.getMessage());
    }
  }
}
