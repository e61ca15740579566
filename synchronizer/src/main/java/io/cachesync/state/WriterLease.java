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
 * last renewed it: kill -9, a lost network). A holder that was a process of this host, in this PID
 * namespace, and is gone (kill -9, then a restart) is taken over at once.
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

  /** This process's PID namespace on Linux ({@code pid:[4026531836]}), else "?". */
  private static final String PID_NAMESPACE = pidNamespace();

  private static String pidNamespace() {
    try {
      return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return "?";
    }
  }

  /**
   * This process, as the lease names it: {@code pid@host/pid-namespace/random} (the random part
   * tells two daemons of one JVM apart).
   */
  static String ownerId() {
    return ManagementFactory.getRuntimeMXBean().getName()
        + "/"
        + PID_NAMESPACE
        + "/"
        + UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * Whether {@code holder} names a process of this host and PID namespace that no longer runs: only
   * then can this process tell. Any other holder is waited for until its lease expires.
   */
  static boolean deadOnThisHost(String holder) {
    String[] parts = holder.split("/", -1);
    if (parts.length != 3 || "?".equals(PID_NAMESPACE) || !PID_NAMESPACE.equals(parts[1])) {
      return false;
    }
    String self = ManagementFactory.getRuntimeMXBean().getName();
    int at = parts[0].indexOf('@');
    if (at <= 0 || !parts[0].substring(at).equals(self.substring(self.indexOf('@')))) {
      return false;
    }
    try {
      long pid = Long.parseLong(parts[0].substring(0, at));
      return ProcessHandle.of(pid).map(process -> !process.isAlive()).orElse(true);
    } catch (NumberFormatException e) {
      return false;
    }
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
   * with the reason, when the role is lost.
   *
   * @param fencedElsewhere whether something besides the lease keeps a second daemon from writing
   *     now (the replication slot, while streaming): then failed renewals alone do not lose the
   *     role
   */
  public void keep(Consumer<String> onLost, BooleanSupplier fencedElsewhere) {
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
