package io.cachesync.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What the figures were measured on.
 *
 * @param loadAverage {@code /proc/loadavg}'s one-minute figure before the run: anything else busy
 *     on the machine skews every number
 */
public record Machine(
    int cores,
    long memoryBytes,
    String cpuModel,
    String loadAverage,
    String postgresVersion,
    String postgresSettings,
    String redisVersion,
    String javaVersion) {

  /** Reads the machine from {@code /proc}; the servers' versions and settings are given. */
  public static Machine describe(
      String postgresVersion, String postgresSettings, String redisVersion) {
    return new Machine(
        Runtime.getRuntime().availableProcessors(),
        memTotal(),
        first(Path.of("/proc/cpuinfo"), "model name"),
        oneMinuteLoad(),
        postgresVersion,
        postgresSettings,
        redisVersion,
        System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
  }

  private static long memTotal() {
    String line = first(Path.of("/proc/meminfo"), "MemTotal");
    String digits = line.replaceAll("[^0-9]", "");
    return digits.isEmpty() ? -1 : Long.parseLong(digits) * 1024;
  }

  /** The one-minute load average now. */
  public static String oneMinuteLoad() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  /** The value of the first {@code key: value} line starting with {@code key}. */
  private static String first(Path file, String key) {
    try {
      List<String> lines = Files.readAllLines(file);
      return lines.stream()
          .filter(line -> line.startsWith(key))
          .map(line -> line.substring(line.indexOf(':') + 1).strip())
          .findFirst()
          .orElse("?");
    } catch (IOException e) {
      return "?";
    }
  }
}
