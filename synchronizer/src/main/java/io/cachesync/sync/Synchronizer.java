package io.cachesync.sync;

import io.cachesync.Backoff;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangePlanner;
import io.cachesync.model.Mapping;
import io.cachesync.model.Version;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Plans each batch of changes into cache operations and applies them through the {@link
 * CacheWriter}, retrying with capped exponential backoff while Redis cannot take them. Progress
 * stops while Redis is unavailable; nothing is skipped (invariant 3).
 */
public final class Synchronizer implements ChangeSink {
  private static final Logger LOG = LoggerFactory.getLogger(Synchronizer.class);
  private static final Duration FIRST_RETRY = Duration.ofMillis(100);
  private static final Duration MAX_RETRY = Duration.ofSeconds(10);

  private final ChangePlanner planner;
  private final CacheWriter writer;
  private final CountDownLatch stopping = new CountDownLatch(1);
  private final AtomicLong changes = new AtomicLong();
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong evicted = new AtomicLong();
  private final AtomicLong stale = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong retries = new AtomicLong();
  private final AtomicLong replayed = new AtomicLong();
  private final Consumer<CacheRolledBackException> onRolledBack;
  private final Consumer<WriterRoleLostException> onRoleLost;
  private final SyncListener listener;

  /** The furthest position Redis acknowledged: stored there at start, or applied since. */
  private volatile Version position;

  /** The keys the last batch's writes left missing ({@link ChangeSink#missedKeys()}). */
  private volatile java.util.Set<String> missedKeys = java.util.Set.of();

  /**
   * @param resumedFrom the position stored in Redis with the last batch it applied, if any
   * @param onRolledBack told when Redis lost batches it had acknowledged; the batch in hand then
   *     stops (is not confirmed), and the stream must restart from what Redis holds
   */
  public Synchronizer(
      Mapping mapping,
      CacheWriter writer,
      Optional<Version> resumedFrom,
      Consumer<CacheRolledBackException> onRolledBack) {
    this(mapping, writer, resumedFrom, onRolledBack, roleLost -> {});
  }

  /**
   * @param onRoleLost told when the writer refused a batch because another daemon holds the
   *     writer's role now; the batch in hand then stops (is not confirmed), and so must the daemon
   */
  public Synchronizer(
      Mapping mapping,
      CacheWriter writer,
      Optional<Version> resumedFrom,
      Consumer<CacheRolledBackException> onRolledBack,
      Consumer<WriterRoleLostException> onRoleLost) {
    this(mapping, writer, resumedFrom, onRolledBack, onRoleLost, SyncListener.NONE);
  }

  /**
   * @param listener hears what became of each batch (metrics, health)
   */
  public Synchronizer(
      Mapping mapping,
      CacheWriter writer,
      Optional<Version> resumedFrom,
      Consumer<CacheRolledBackException> onRolledBack,
      Consumer<WriterRoleLostException> onRoleLost,
      SyncListener listener) {
    this.listener = listener;
    this.planner = new ChangePlanner(mapping);
    this.writer = writer;
    this.position = resumedFrom.orElse(Version.ZERO);
    this.onRolledBack = onRolledBack;
    this.onRoleLost = onRoleLost;
  }

  @Override
  public void accept(List<ChangeEvent> batch, Version batchPosition) throws InterruptedException {
    long started = System.nanoTime();
    tell(() -> listener.batchStarted(batch, batchPosition));
    SyncListener.Outcome[] outcomes = new SyncListener.Outcome[batch.size()];
    List<CacheOperation> operations = new ArrayList<>(batch.size());
    // Which change each operation comes from, by index: read only when some were skipped.
    int[] origins = new int[Math.max(16, batch.size())];
    for (int i = 0; i < batch.size(); i++) {
      ChangeEvent event = batch.get(i);
      if (alreadyApplied(event)) {
        replayed.incrementAndGet();
        outcomes[i] = SyncListener.Outcome.REPLAYED;
        continue;
      }
      outcomes[i] = SyncListener.Outcome.APPLIED;
      for (CacheOperation operation : planner.plan(event)) {
        if (operation instanceof CacheOperation.Reject reject) {
          failed.incrementAndGet();
          outcomes[i] = SyncListener.Outcome.REFUSED;
          try (MDC.MDCCloseable table = MDC.putCloseable("table", reject.table().toString());
              MDC.MDCCloseable lsn =
                  MDC.putCloseable("lsn", Version.lsnText(event.version().lsn()))) {
            LOG.warn("Cannot cache a change to {}: {}", reject.table(), reject.reason());
          }
        } else {
          if (operations.size() == origins.length) {
            origins = Arrays.copyOf(origins, origins.length * 2);
          }
          origins[operations.size()] = i;
          operations.add(operation);
        }
      }
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug("Batch of {} changes up to {}: {}", batch.size(), batchPosition, operations);
    }
    // A replayed batch ends below what Redis holds: the position stays where it was, or the next
    // replayed batch would not be recognised as one.
    Version applied = position;
    Version reached = batchPosition.compareTo(applied) > 0 ? batchPosition : applied;
    BatchOutcome outcome = applyWithRetries(operations, reached, applied);
    changes.addAndGet(batch.size());
    written.addAndGet(outcome.written());
    evicted.addAndGet(outcome.evicted());
    stale.addAndGet(outcome.stale());
    failed.addAndGet(outcome.failures().size());
    position = reached;
    missedKeys = missed(outcome);
    markSkipped(outcomes, operations, origins, outcome);
    long elapsed = System.nanoTime() - started;
    tell(() -> listener.batchApplied(batch, outcomes, reached, elapsed));
  }

  private static java.util.Set<String> missed(BatchOutcome outcome) {
    if (outcome.failedOperations().isEmpty()) {
      return java.util.Set.of();
    }
    java.util.Set<String> keys = new java.util.HashSet<>();
    for (CacheOperation operation : outcome.failedOperations()) {
      if (operation instanceof CacheOperation.Write write) {
        keys.add(write.key());
      }
    }
    return keys;
  }

  @Override
  public java.util.Set<String> missedKeys() {
    return missedKeys;
  }

  /** Tells the listener; its failure (a metrics bug) never stops the stream. */
  private void tell(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      LOG.warn("The metrics could not record a batch: {}", e.toString(), e);
    }
  }

  /** Marks the changes whose operations Redis skipped as stale, or evicted instead of writing. */
  private static void markSkipped(
      SyncListener.Outcome[] outcomes,
      List<CacheOperation> operations,
      int[] origins,
      BatchOutcome outcome) {
    if (outcome.staleOperations().isEmpty() && outcome.failedOperations().isEmpty()) {
      return;
    }
    Map<CacheOperation, Integer> indexes = new IdentityHashMap<>(operations.size());
    for (int i = 0; i < operations.size(); i++) {
      indexes.put(operations.get(i), i);
    }
    for (CacheOperation operation : outcome.staleOperations()) {
      Integer index = indexes.get(operation);
      if (index != null && outcomes[origins[index]] == SyncListener.Outcome.APPLIED) {
        outcomes[origins[index]] = SyncListener.Outcome.STALE;
      }
    }
    for (CacheOperation operation : outcome.failedOperations()) {
      Integer index = indexes.get(operation);
      if (index != null) {
        outcomes[origins[index]] = SyncListener.Outcome.FAILED;
      }
    }
  }

  /**
   * Counts the rows of an initial load written outside the batches ({@link
   * io.cachesync.load.InitialLoad}) with the changes, so that the counts cover everything written.
   */
  public void countLoad(long rows, long written, long evicted, long refused) {
    changes.addAndGet(rows);
    this.written.addAndGet(written);
    this.evicted.addAndGet(evicted);
    failed.addAndGet(refused);
  }

  /** The furthest position Redis acknowledged since start (never lowered by a replay). */
  @Override
  public Version acknowledged() {
    return position;
  }

  /**
   * Whether a streamed change is a replay of one Redis already holds. Debezium resumes from its
   * last flushed offset, which can be a second behind the position stored atomically with the data:
   * a restart after a crash, or Debezium's own restart after a lost connection, sees those changes
   * again. The stream is in version order and a batch's position is its last change's version, so a
   * streamed change below the last applied position (stored in Redis at start, or applied since)
   * was applied in a batch Redis acknowledged. Skipping it keeps a replay from even briefly showing
   * older data, or a deleted row written back until its delete is replayed too, which the version
   * guard alone cannot prevent for an absent key. A change at exactly that position is applied
   * again (harmless: it is the newest Redis holds), because the two halves of a primary-key move
   * share one. Rows of a load carry the load's version, not a stream position: never skipped.
   */
  private boolean alreadyApplied(ChangeEvent event) {
    return event.kind() != ChangeEvent.Kind.SNAPSHOT && event.version().compareTo(position) < 0;
  }

  private BatchOutcome applyWithRetries(
      List<CacheOperation> operations, Version batchPosition, Version acknowledged)
      throws InterruptedException {
    Backoff backoff = new Backoff(FIRST_RETRY, MAX_RETRY);
    int attempt = 0;
    List<CacheOperation> remaining = operations;
    Version held = acknowledged;
    while (true) {
      if (stopping.getCount() == 0 && attempt > 0) {
        throw new InterruptedException("stopping before Redis took the batch");
      }
      try {
        BatchOutcome outcome = writer.apply(remaining, batchPosition, held);
        if (attempt > 0) {
          LOG.info("Redis took the batch again after {} failed attempts; resuming", attempt);
        }
        return outcome;
      } catch (CacheRolledBackException e) {
        onRolledBack.accept(e);
        throw new InterruptedException("Redis lost acknowledged batches: " + e.getMessage());
      } catch (WriterRoleLostException e) {
        onRoleLost.accept(e);
        throw new InterruptedException("Lost the writer's role: " + e.getMessage());
      } catch (RedisUnavailableException e) {
        // What Redis already holds of the batch (parts before a TRUNCATE) is not written again,
        // and Redis must still hold the position it acknowledged with them: a failover can lose
        // a TRUNCATE's evictions, which no transaction covers.
        remaining = remaining.subList(e.applied(), remaining.size());
        if (e.acknowledged().compareTo(held) > 0) {
          held = e.acknowledged();
        }
        attempt++;
        retries.incrementAndGet();
        Duration delay = backoff.next();
        RedisUnavailableException failure = e;
        tell(() -> listener.retrying(failure));
        MDC.put("lsn", Version.lsnText(batchPosition.lsn()));
        LOG.warn(
            "Redis cannot take the batch at {} (attempt {}): {}; retrying in {} ms, nothing is confirmed to PostgreSQL meanwhile",
            batchPosition,
            attempt,
            e.getMessage(),
            delay.toMillis());
        MDC.remove("lsn");
        if (stopping.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new InterruptedException("stopping before Redis took the batch");
        }
      }
    }
  }

  /** Makes a batch waiting for Redis give up, so that shutdown is not held up by an outage. */
  public void stop() {
    stopping.countDown();
  }

  /** Counts since start, for logs and metrics. */
  public record Counts(
      long changes,
      long written,
      long evicted,
      long stale,
      long failed,
      long retries,
      long replayed) {}

  public Counts counts() {
    return new Counts(
        changes.get(),
        written.get(),
        evicted.get(),
        stale.get(),
        failed.get(),
        retries.get(),
        replayed.get());
  }
}
