package io.cachesync.bench.measure;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The CPU time a process used so far: user and system time ({@code utime} + {@code stime}) of all
 * its threads, from {@code /proc/<pid>/stat}, in clock ticks of {@code getconf CLK_TCK}.
 */
public final class ProcessCpu {
  /** The clock's ticks per second assumed when {@code getconf CLK_TCK} does not answer. */
  static final long ASSUMED_TICKS_PER_SECOND = 100;

  private final long ticksPerSecond;
  private final boolean assumed;

  private ProcessCpu(long ticksPerSecond, boolean assumed) {
    this.ticksPerSecond = ticksPerSecond;
    this.assumed = assumed;
  }

  /** Asks {@code getconf CLK_TCK} for the clock's ticks per second (100 on common kernels). */
  public static ProcessCpu ofThisMachine() throws IOException, InterruptedException {
    Process getconf = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
    String output;
    try (InputStream in = getconf.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
    }
    if (getconf.waitFor() != 0 || !output.matches("[0-9]+") || Long.parseLong(output) <= 0) {
      throw new IOException("getconf CLK_TCK answered '" + output + "'");
    }
    return new ProcessCpu(Long.parseLong(output), false);
  }

  /**
   * As {@link #ofThisMachine()}, or {@value #ASSUMED_TICKS_PER_SECOND} ticks per second (the value
   * of every common Linux kernel) when {@code getconf} cannot tell; {@link #assumed()} says which.
   */
  public static ProcessCpu ofThisMachineOrAssumed() {
    try {
      return ofThisMachine();
    } catch (IOException e) {
      return new ProcessCpu(ASSUMED_TICKS_PER_SECOND, true);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new ProcessCpu(ASSUMED_TICKS_PER_SECOND, true);
    }
  }

  static ProcessCpu ofTicksPerSecond(long ticksPerSecond) {
    return new ProcessCpu(ticksPerSecond, false);
  }

  /** The clock's ticks per second that {@code utime} and {@code stime} are counted in. */
  public long ticksPerSecond() {
    return ticksPerSecond;
  }

  /** Whether {@link #ticksPerSecond()} is assumed, {@code getconf CLK_TCK} having failed. */
  public boolean assumed() {
    return assumed;
  }

  /** The CPU time of process {@code pid} so far; empty when it exited or /proc cannot be read. */
  public Optional<Duration> used(long pid) {
    try {
      return Optional.of(fromStat(Files.readString(Path.of("/proc", Long.toString(pid), "stat"))));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * utime + stime of one {@code /proc/<pid>/stat} line: fields 14 and 15, counted after the command
   * name in parentheses, which may hold spaces and parentheses itself.
   */
  Duration fromStat(String stat) {
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    return Duration.ofNanos(Math.multiplyExact(ticks, 1_000_000_000L) / ticksPerSecond);
  }
}
