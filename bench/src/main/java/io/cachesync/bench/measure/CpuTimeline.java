package io.cachesync.bench.measure;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * The CPU time of the processes a run measures (the JVMs, the WAL senders, Redis), read from {@code
 * /proc/<pid>/stat} ({@link ProcessCpu}) every {@value #PERIOD_MILLIS} ms by one thread, each
 * sample kept with its {@link System#nanoTime()}. On Linux that clock is {@code CLOCK_MONOTONIC},
 * the same in every process, so a drain's start and end may come from the measured process's own
 * clock (a reference consumer's segment), and the CPU a process used in the drain is read as the
 * difference of its samples at those two moments. A drain ended by a process that exits keeps the
 * process's last sample, taken at most a period before its exit.
 *
 * <p>Sampling rather than reading at the two moments, because the benchmark does not see every
 * moment when it happens: a reference consumer reports a segment's end after the fact. The error is
 * one period plus one clock tick (10 ms each on common kernels) at each end.
 */
public final class CpuTimeline implements AutoCloseable {
  static final long PERIOD_MILLIS = 10;

  private final ProcessCpu cpu;
  private final Map<Long, Samples> samples = new ConcurrentHashMap<>();
  private final Set<Long> watched = ConcurrentHashMap.newKeySet();
  private final Thread sampler;
  private volatile boolean closed;

  private CpuTimeline(ProcessCpu cpu, boolean sampling) {
    this.cpu = cpu;
    this.sampler = new Thread(this::sample, "bench-cpu-timeline");
    this.sampler.setDaemon(true);
    if (sampling) {
      sampler.start();
    }
  }

  /** Starts sampling, with nothing watched yet. */
  public static CpuTimeline start(ProcessCpu cpu) {
    return new CpuTimeline(cpu, true);
  }

  /** A timeline fed by {@link #record} only, for tests. */
  static CpuTimeline unsampled(ProcessCpu cpu) {
    return new CpuTimeline(cpu, false);
  }

  /** How the CPU time is counted. */
  public ProcessCpu cpu() {
    return cpu;
  }

  /** Samples {@code pid} from now on (once at once), until {@link #unwatch} or its exit. */
  public void watch(long pid) {
    readNow(pid);
    watched.add(pid);
  }

  /** Stops sampling {@code pid}; its samples stay. */
  public void unwatch(long pid) {
    readNow(pid);
    watched.remove(pid);
  }

  /**
   * The CPU time {@code pid} used from {@code from} to {@code to} ({@link System#nanoTime()}): its
   * sample at {@code to} minus its sample at {@code from} (see {@link #at}); empty when it has no
   * sample.
   */
  public Optional<Duration> between(long pid, long from, long to) {
    Samples of = samples.get(pid);
    if (of == null) {
      return Optional.empty();
    }
    return of.at(to).flatMap(end -> of.at(from).map(start -> end.minus(start)));
  }

  /** Records one sample; the sampling thread's, and tests'. */
  void record(long pid, long nanos, Duration used) {
    samples.computeIfAbsent(pid, p -> new Samples()).add(nanos, used.toNanos());
  }

  private void readNow(long pid) {
    long now = System.nanoTime();
    cpu.used(pid).ifPresent(used -> record(pid, now, used));
  }

  private void sample() {
    while (!closed) {
      for (long pid : watched) {
        long now = System.nanoTime();
        Optional<Duration> used = cpu.used(pid);
        if (used.isPresent()) {
          record(pid, now, used.get());
        } else {
          watched.remove(pid); // it exited: its last sample stays
        }
      }
      LockSupport.parkNanos(PERIOD_MILLIS * 1_000_000);
    }
  }

  @Override
  public void close() {
    closed = true;
    sampler.interrupt();
  }

  /** One process's samples, in the order taken (so in time order). */
  private static final class Samples {
    private long[] nanos = new long[1024];
    private long[] used = new long[1024];
    private int size;

    synchronized void add(long at, long cpuNanos) {
      if (size == nanos.length) {
        nanos = Arrays.copyOf(nanos, size * 2);
        used = Arrays.copyOf(used, size * 2);
      }
      nanos[size] = at;
      used[size] = cpuNanos;
      size++;
    }

    /**
     * The CPU time at {@code at}: the last sample taken at or before it; the first sample when
     * {@code at} precedes every sample (a process watched just after the drain began, such as a WAL
     * sender found once its slot became active).
     */
    synchronized Optional<Duration> at(long at) {
      if (size == 0) {
        return Optional.empty();
      }
      int low = 0;
      int high = size - 1;
      int found = 0;
      while (low <= high) {
        int middle = (low + high) >>> 1;
        if (nanos[middle] <= at) {
          found = middle;
          low = middle + 1;
        } else {
          high = middle - 1;
        }
      }
      return Optional.of(Duration.ofNanos(used[found]));
    }
  }
}
