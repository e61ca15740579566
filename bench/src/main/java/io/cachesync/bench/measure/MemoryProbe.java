package io.cachesync.bench.measure;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Follows the memory of one JVM process: its used heap through one {@code jstat -gc <pid> 250}
 * child (restarted until the JVM publishes its performance data), and its peak resident set from
 * {@code /proc/<pid>/status}, read with every sample and once more on {@link #peak()}. Samples are
 * kept with their {@link System#nanoTime()}, so that the peak of a time window can be read; on
 * Linux that clock is {@code CLOCK_MONOTONIC}, the same in every process, so a window may come from
 * the measured process's own clock.
 */
public final class MemoryProbe implements AutoCloseable {
  private static final long SAMPLE_MILLIS = 250;

  /** One jstat line: when, the used heap, and the resident set's high-water mark so far. */
  private record Sample(long nanos, long heapUsedBytes, long peakRssBytes) {}

  private final long pid;
  private final Thread sampler;
  private volatile Process jstat;
  private volatile boolean closed;
  private volatile long peakHeapUsedBytes = -1;
  private volatile long peakRssBytes = -1;
  private final List<Sample> samples = new java.util.concurrent.CopyOnWriteArrayList<>();

  private MemoryProbe(long pid) {
    this.pid = pid;
    this.sampler = new Thread(this::sample, "bench-memory-" + pid);
    this.sampler.setDaemon(true);
  }

  public static MemoryProbe attach(long pid) {
    MemoryProbe probe = new MemoryProbe(pid);
    probe.sampler.start();
    return probe;
  }

  private void sample() {
    while (!closed && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      try {
        jstat =
            new ProcessBuilder("jstat", "-gc", Long.toString(pid), Long.toString(SAMPLE_MILLIS))
                .redirectErrorStream(true)
                .start();
        try (BufferedReader lines =
            new BufferedReader(
                new InputStreamReader(jstat.getInputStream(), StandardCharsets.UTF_8))) {
          List<String> header = null;
          for (String line = lines.readLine(); line != null; line = lines.readLine()) {
            List<String> columns = List.of(line.trim().split("\\s+"));
            if (columns.contains("EU")) {
              header = columns;
            } else if (header != null) {
              long now = System.nanoTime();
              readRss();
              heapUsedBytes(header, columns)
                  .ifPresent(
                      used -> {
                        peakHeapUsedBytes = Math.max(peakHeapUsedBytes, used);
                        samples.add(new Sample(now, used, peakRssBytes));
                      });
            }
          }
        }
        jstat.waitFor(1, TimeUnit.SECONDS);
        Thread.sleep(200); // jstat exits at once while the JVM has no performance data yet
      } catch (IOException e) {
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * The used heap in one line of {@code jstat -gc}: survivor spaces, eden and old generation, in
   * KB.
   */
  static Optional<Long> heapUsedBytes(List<String> header, List<String> values) {
    if (values.size() != header.size()) {
      return Optional.empty();
    }
    double kilobytes = 0;
    try {
      for (String column : List.of("S0U", "S1U", "EU", "OU")) {
        int index = header.indexOf(column);
        if (index < 0) {
          return Optional.empty();
        }
        kilobytes += Double.parseDouble(values.get(index));
      }
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    return Optional.of(Math.round(kilobytes * 1024));
  }

  private void readRss() {
    vmHwmBytes(Path.of("/proc", Long.toString(pid), "status"))
        .ifPresent(rss -> peakRssBytes = Math.max(peakRssBytes, rss));
  }

  /** The {@code VmHWM} line of a {@code /proc/<pid>/status} file, in bytes. */
  static Optional<Long> vmHwmBytes(Path status) {
    try {
      return Files.readAllLines(status).stream()
          .filter(line -> line.startsWith("VmHWM:"))
          .map(line -> line.replaceAll("[^0-9]", ""))
          .filter(digits -> !digits.isEmpty())
          .map(digits -> Long.parseLong(digits) * 1024)
          .findFirst();
    } catch (IOException e) {
      return Optional.empty(); // the process exited
    }
  }

  /** The peaks so far; reads the resident set once more while the process is alive. */
  public Memory peak() {
    readRss();
    return new Memory(peakRssBytes, peakHeapUsedBytes);
  }

  /**
   * The peaks of the samples taken from {@code from} to {@code to} ({@link System#nanoTime()}): the
   * largest used heap among them, and the resident set's high-water mark at the last of them (the
   * high-water mark since the process started, not of the window alone).
   */
  public Memory peakBetween(long from, long to) {
    long heap = -1;
    long rss = -1;
    for (Sample sample : samples) {
      if (sample.nanos() >= from && sample.nanos() <= to) {
        heap = Math.max(heap, sample.heapUsedBytes());
        rss = Math.max(rss, sample.peakRssBytes());
      }
    }
    return new Memory(rss, heap);
  }

  @Override
  public void close() {
    closed = true;
    Process running = jstat;
    if (running != null) {
      running.destroy();
    }
    sampler.interrupt();
  }
}
