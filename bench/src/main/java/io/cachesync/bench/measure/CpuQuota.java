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
 * so that a held process waits at most a few milliseconds at a time. Closing moves them back to the
 * root group and removes the groups.
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
  private final List<Long> pids = new ArrayList<>();

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
    CpuQuota quota = new CpuQuota(hierarchy);
    long quotaMicros = Math.max(1_000, Math.round(PERIOD_MICROS * share));
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
        Files.writeString(group.resolve("cgroup.procs"), Long.toString(pid));
        quota.pids.add(pid);
      }
      return quota;
    } catch (IOException | RuntimeException e) {
      quota.close();
      throw e;
    }
  }

  /** Moves the processes back to the root group and removes the groups. */
  @Override
  public void close() throws IOException {
    IOException failed = null;
    for (long pid : pids) {
      try {
        Files.writeString(hierarchy.root().resolve("cgroup.procs"), Long.toString(pid));
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
    if (failed != null) {
      throw failed;
    }
  }
}
