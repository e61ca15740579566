package io.cachesync.state;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer's role of one synchronizer name: a lease in Redis ({@code cachesync:<name>:writer})
 * that the active daemon takes before it decides anything and renews every {@link #RENEW_EVERY} for
 * its whole run, initial load included. Only its holder writes; another daemon of the same name
 * stands by until the lease is released (a clean stop) or expires ({@link #TTL} after the holder
 * last renewed it: kill -9, a lost network). A holder that was a process of this boot of this host
 * (same boot id and PID namespace) and is gone (kill -9, then a restart), or whose pid now belongs
 * to a process started later, is taken over at once.
 *
 * <p>The lease lives in the Redis the daemon writes to, so it also fences a daemon cut off from
 * PostgreSQL but not from Redis. Its holder counts the role lost, and stops, when a renewal finds
 * another owner (the lease expired meanwhile and a standby took it). When it cannot reach Redis to
 * renew, it stops before the lease may expire there only while nothing else fences it: while it
 * streams, the replication slot admits no second consumer, so a standby that takes the lease but
 * finds the slot in use stands by, and an outage of Redis need not stop the stream (it catches up
 * when Redis is back). A Redis that lost the lease (FLUSHALL, a restart without persistence, a
 * failover to a replica without it) gives the role to whichever daemon asks first; the holder
 * renews it if it is first.
 */
public final class WriterLease implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WriterLease.class);

  /** How long the lease outlives its last renewal. */
  public static final Duration TTL = Duration.ofSeconds(10);

  /** How often the holder renews it. */
  public static final Duration RENEW_EVERY = Duration.ofSeconds(2);

  private final StateStore store;
  private final String owner;
  private final LongSupplier nanoTime;
  private final Predicate<String> holderGone;
  private final AtomicBoolean lost = new AtomicBoolean();
  private volatile long heldUntil;
  private ScheduledExecutorService renewer;
  private Consumer<String> onLost = why -> {};
  private boolean closed;

  /**
   * @param nanoTime a monotonic clock ({@link System#nanoTime()})
   * @param holderGone whether the process a lease names is known to be dead
   */
  public WriterLease(
      StateStore store, String owner, LongSupplier nanoTime, Predicate<String> holderGone) {
    this.store = store;
    this.owner = owner;
    this.nanoTime = nanoTime;
    this.holderGone = holderGone;
  }

  public static WriterLease of(StateStore store) {
    return new WriterLease(store, ownerId(), System::nanoTime, WriterLease::deadOnThisHost);
  }

  /** This host's PID namespace on Linux ({@code pid:[4026531836]}), else "?". */
  private static final String PID_NAMESPACE = pidNamespace();

  /**
   * This boot of this host ({@code /proc/sys/kernel/random/boot_id}), else "?": unlike the host
   * name and the PID namespace's inode (the initial namespace has the same one on every kernel), it
   * tells machines apart, and a reboot (which reuses pids) apart from the boot before.
   */
  private static final String BOOT_ID = bootId();

  private static String pidNamespace() {
    try {
      return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return "?";
    }
  }

  private static String bootId() {
    try {
      String id = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
      return id.isEmpty() || id.contains("/") ? "?" : id;
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return "?";
    }
  }

  /**
   * When process {@code pid} started, in clock ticks since boot ({@code /proc/<pid>/stat} field
   * 22): with the boot id, it tells a process from a later one that reuses its pid.
   *
   * @return empty when there is no such process; "?" when it cannot be read
   */
  static Optional<String> startTime(long pid) {
    Path stat = Path.of("/proc", Long.toString(pid), "stat");
    try {
      String text = Files.readString(stat);
      // The command name (field 2) is in parentheses and may hold spaces and parentheses.
      String[] fields = text.substring(text.lastIndexOf(')') + 2).split(" ");
      return Optional.of(fields.length > 19 ? fields[19] : "?");
    } catch (java.nio.file.NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.of("?");
    }
  }

  /**
   * This process, as the lease names it: {@code pid@host/pid-namespace/boot-id/start-time/random}
   * (the random part tells two daemons of one JVM apart).
   */
  static String ownerId() {
    long pid = ProcessHandle.current().pid();
    return ManagementFactory.getRuntimeMXBean().getName()
        + "/"
        + PID_NAMESPACE
        + "/"
        + BOOT_ID
        + "/"
        + startTime(pid).orElse("?")
        + "/"
        + UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * Whether {@code holder} names a process of this boot of this host, in this PID namespace, that
   * no longer runs: its pid is gone, or now belongs to a process started at another time. Only then
   * can this process tell; any other holder, or anything that cannot be read, is waited for until
   * its lease expires.
   */
  static boolean deadOnThisHost(String holder) {
    String[] parts = holder.split("/", -1);
    if (parts.length != 5
        || "?".equals(PID_NAMESPACE)
        || "?".equals(BOOT_ID)
        || !PID_NAMESPACE.equals(parts[1])
        || !BOOT_ID.equals(parts[2])
        || "?".equals(parts[3])) {
      return false;
    }
    int at = parts[0].indexOf('@');
    long pid;
    try {
      pid = Long.parseLong(at > 0 ? parts[0].substring(0, at) : "");
    } catch (NumberFormatException e) {
      return false;
    }
    Optional<String> started = startTime(pid);
    if (started.isEmpty()) {
      return true;
    }
    return !"?".equals(started.get()) && !started.get().equals(parts[3]);
  }

  public String owner() {
    return owner;
  }

  /**
   * Takes the role if it is free, or renews it if this owner holds it.
   *
   * @return false when another daemon holds it
   */
  public boolean acquire() {
    long asked = nanoTime.getAsLong();
    if (!store.holdWriter(owner, TTL) && !takeOverFromTheDead()) {
      return false;
    }
    heldUntil = asked + TTL.toNanos();
    return true;
  }

  private boolean takeOverFromTheDead() {
    Optional<String> holder = store.writer();
    if (holder.isEmpty() || !holderGone.test(holder.get())) {
      return false;
    }
    boolean taken = store.takeOverWriter(holder.get(), owner, TTL);
    if (taken) {
      LOG.info(
          "The writer's lease was held by {}, a process of this host that is gone: taken over",
          holder.get());
    }
    return taken;
  }

  /** Who holds the role, for the standby's log line. */
  public Optional<String> holder() {
    return store.writer();
  }

  /**
   * Renews the lease every {@link #RENEW_EVERY} until {@link #close()}; calls {@code onLost} once,
   * with the reason, when the role is lost. Called right after {@link #acquire()}, so that a slow
   * start keeps the role; a no-op once closed.
   *
   * @param fencedElsewhere whether something besides the lease keeps a second daemon from writing
   *     now (the replication slot, while streaming): then failed renewals alone do not lose the
   *     role
   */
  public synchronized void keep(Consumer<String> onLost, BooleanSupplier fencedElsewhere) {
    if (closed || renewer != null) {
      return;
    }
    this.onLost = onLost;
    renewer =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "cachesync-lease");
              thread.setDaemon(true);
              return thread;
            });
    renewer.scheduleWithFixedDelay(
        () -> renew(onLost, fencedElsewhere),
        RENEW_EVERY.toMillis(),
        RENEW_EVERY.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /**
   * Renews the lease now and says whether this daemon still holds the role: called right before a
   * step that must not run unless it does (dropping the slot, resetting the state).
   *
   * @throws RuntimeException when Redis cannot be asked
   */
  public boolean confirm() {
    if (lost.get()) {
      return false;
    }
    long asked = nanoTime.getAsLong();
    if (store.holdWriter(owner, TTL)) {
      heldUntil = asked + TTL.toNanos();
      return true;
    }
    lose(
        onLost,
        "another daemon holds the writer's role now ("
            + store.writer().orElse("?")
            + "): this one's lease expired before it was renewed");
    return false;
  }

  /** Whether the role was lost (see {@link #keep}). */
  public boolean lost() {
    return lost.get();
  }

  /** One renewal; public for tests that drive the clock. */
  public void renew(Consumer<String> onLost, BooleanSupplier fencedElsewhere) {
    if (lost.get()) {
      return;
    }
    long asked = nanoTime.getAsLong();
    try {
      if (store.holdWriter(owner, TTL)) {
        heldUntil = asked + TTL.toNanos();
        return;
      }
      lose(
          onLost,
          "another daemon holds the writer's role now ("
              + store.writer().orElse("?")
              + "): this one's lease expired before it was renewed");
    } catch (RuntimeException e) {
      // Stop a renewal period before Redis may let the lease expire, so that the standby that
      // takes it over never writes alongside this daemon.
      if (asked >= heldUntil - RENEW_EVERY.toNanos() && !fencedElsewhere.getAsBoolean()) {
        lose(
            onLost,
            "could not renew the writer's lease for "
                + TTL.minus(RENEW_EVERY).toSeconds()
                + " s ("
                + e.getMessage()
                + "): another daemon may take the role over");
      } else {
        LOG.warn("Could not renew the writer's lease ({}); trying again", e.getMessage());
      }
    }
  }

  private void lose(Consumer<String> onLost, String why) {
    if (lost.compareAndSet(false, true)) {
      onLost.accept(why);
    }
  }

  /** Stops renewing and gives the role up (unless lost), so that a standby takes over at once. */
  @Override
  public void close() {
    ScheduledExecutorService renewer;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      renewer = this.renewer;
    }
    if (renewer != null) {
      renewer.shutdownNow();
      try {
        // A renewal sent after the release would take the role again for a whole TTL.
        if (!renewer.awaitTermination(RENEW_EVERY.toMillis(), TimeUnit.MILLISECONDS)) {
          LOG.info("A renewal of the writer's lease is still running; releasing it anyway");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (!lost.get()) {
      try {
        store.releaseWriter(owner);
      } catch (RuntimeException e) {
        LOG.info(
            "Could not release the writer's lease ({}); it expires within {} s",
            e.getMessage(),
            TTL.toSeconds());
      }
    }
  }
}
