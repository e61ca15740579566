package io.cachesync.bench.consumer;

import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.Memory;
import io.cachesync.bench.measure.MemoryProbe;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A {@link ReferenceConsumer} in its own JVM, seen from the benchmark. */
public final class ReferenceProcess implements AutoCloseable {
  public static final String DEBEZIUM_ALONE = ReferenceConsumer.DEBEZIUM_ALONE;
  public static final String NAIVE = ReferenceConsumer.NAIVE;

  private static final Pattern SEGMENT =
      Pattern.compile(
          "segment marker=(-?\\d+) changes=(\\d+) written=(\\d+) start=(-?\\d+)"
              + " first=(-?\\d+) lastWrite=(-?\\d+) end=(-?\\d+)"
              + " lag50=(\\d+) lag99=(\\d+) lagMax=(\\d+)");

  /**
   * One segment of the backlog as the consumer went through it; times are {@link System#nanoTime()}
   * of the consumer's JVM.
   *
   * @param written the changes written to Redis (naive only; fewer than {@code changes} when the
   *     write budget ran out)
   * @param lag the lag of the segment's changes, from their commit to the consumer
   */
  public record Segment(
      long marker,
      long changes,
      long written,
      long start,
      long first,
      long lastWrite,
      long end,
      boolean writes,
      ReceiptLag lag) {

    /**
     * The segment's drain: all of {@code changes} over start to end, or when the naive consumer ran
     * out of write budget, the changes it wrote over the time it wrote them (from its first
     * change).
     */
    public Drain drain(long changes) {
      if (budgetRanOut()) {
        if (written == 0) {
          throw new IllegalStateException("the naive consumer wrote nothing within its budget");
        }
        return Drain.of(written, first, lastWrite);
      }
      return Drain.of(changes, start, end);
    }

    /** Whether the write budget ran out before the segment's end. */
    public boolean budgetRanOut() {
      return writes && written < changes;
    }

    /** This segment, started at {@code start} ({@link System#nanoTime()}) instead. */
    public Segment startingAt(long start) {
      return new Segment(marker, changes, written, start, first, lastWrite, end, writes, lag);
    }
  }

  /**
   * The lag of a segment's changes, from their commit (the WAL's commit record) to the consumer's
   * receipt, in microseconds.
   */
  public record ReceiptLag(long p50Micros, long p99Micros, long maxMicros) {}

  private final String kind;
  private final Process process;
  private final MemoryProbe memory;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final Path log;

  private ReferenceProcess(String kind, Process process, Path log) {
    this.kind = kind;
    this.process = process;
    this.log = log;
    this.memory = MemoryProbe.attach(process.pid());
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader out =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                  lines.add(line);
                }
              } catch (IOException e) {
                lines.add("failed " + e);
              }
            },
            "bench-" + kind + "-out");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * A consumer streaming its slot until the marker row reaches {@code lastMarker}. The JVM starts
   * now and waits for {@link #go()}.
   *
   * @param writeBudget per segment, for the naive consumer
   */
  public static ReferenceProcess stream(
      Path benchJar,
      String kind,
      Path config,
      String slot,
      long lastMarker,
      Duration writeBudget,
      Path log) {
    return start(
        benchJar,
        kind,
        config,
        slot,
        List.of(
            "--until-marker=" + lastMarker, "--write-budget-seconds=" + writeBudget.toSeconds()),
        log);
  }

  /** A consumer that creates {@code slot} and snapshots {@code rows} rows from it. */
  public static ReferenceProcess snapshot(
      Path benchJar,
      String kind,
      Path config,
      String slot,
      long rows,
      Duration writeBudget,
      Path log) {
    return start(
        benchJar,
        kind,
        config,
        slot,
        List.of("--until-rows=" + rows, "--write-budget-seconds=" + writeBudget.toSeconds()),
        log);
  }

  private static ReferenceProcess start(
      Path benchJar, String kind, Path config, String slot, List<String> options, Path log) {
    List<String> command = Jvm.command("WARN");
    command.addAll(
        List.of(
            "-cp",
            benchJar.toString(),
            ReferenceConsumer.class.getName(),
            "--kind=" + kind,
            "--config=" + config,
            "--slot=" + slot));
    command.addAll(options);
    try {
      Process process =
          ChildProcesses.track(
              new ProcessBuilder(command)
                  .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                  .start());
      return new ReferenceProcess(kind, process, log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Lets the consumer start its engine. */
  public void go() {
    try {
      process.getOutputStream().write("go\n".getBytes(StandardCharsets.UTF_8));
      process.getOutputStream().flush();
    } catch (IOException e) {
      throw new UncheckedIOException(kind + " consumer is gone (log: " + log + ")", e);
    }
  }

  public boolean alive() {
    return process.isAlive();
  }

  /** Stops the process where it is ({@code SIGSTOP}), until {@link #resume()}. */
  public void pause() {
    Pause.stop(process.pid());
  }

  /** Lets the process go on ({@code SIGCONT}) and returns {@link System#nanoTime()} then. */
  public long resume() {
    Pause.resume(process.pid());
    return System.nanoTime();
  }

  public long pid() {
    return process.pid();
  }

  /** Waits for the consumer's next segment. */
  public Segment awaitSegment(Duration timeout) throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String line = lines.poll(100, TimeUnit.MILLISECONDS);
      if (line != null) {
        Matcher segment = SEGMENT.matcher(line);
        if (segment.matches()) {
          List<Long> values = new ArrayList<>();
          for (int group = 1; group <= 10; group++) {
            values.add(Long.parseLong(segment.group(group)));
          }
          return new Segment(
              values.get(0),
              values.get(1),
              values.get(2),
              values.get(3),
              values.get(4),
              values.get(5),
              values.get(6),
              NAIVE.equals(kind),
              new ReceiptLag(values.get(7), values.get(8), values.get(9)));
        }
        if (line.startsWith("failed")) {
          throw new IllegalStateException(kind + " consumer " + line + " (log: " + log + ")");
        }
      } else if (!process.isAlive() && lines.isEmpty()) {
        throw new IllegalStateException(
            kind + " consumer exited with " + process.exitValue() + " (log: " + log + ")");
      }
      if (System.nanoTime() > deadline) {
        throw new TimeoutException(kind + " consumer: no segment within " + timeout);
      }
    }
  }

  /** The consumer's memory while it drained {@code [from, to]} (its own nanoTime clock). */
  public Memory memoryBetween(long from, long to) {
    return memory.peakBetween(from, to);
  }

  /**
   * Reads the consumer's memory, then kills it: it is done, its offsets are thrown away, and a
   * graceful engine stop would only add a second to every step.
   */
  public Memory finish() throws InterruptedException {
    Memory peak = memory.peak();
    close();
    return peak;
  }

  @Override
  public void close() {
    memory.close();
    process.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
