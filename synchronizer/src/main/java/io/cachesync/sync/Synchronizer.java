package io.cachesync.sync;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangePlanner;
import io.cachesync.model.Mapping;
import io.cachesync.model.Version;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
  private volatile Version position = Version.ZERO;

  public Synchronizer(Mapping mapping, CacheWriter writer) {
    this.planner = new ChangePlanner(mapping);
    this.writer = writer;
  }

  @Override
  public void accept(List<ChangeEvent> batch, Version batchPosition) throws InterruptedException {
    List<CacheOperation> operations = new ArrayList<>(batch.size());
    for (ChangeEvent event : batch) {
      for (CacheOperation operation : planner.plan(event)) {
        if (operation instanceof CacheOperation.Reject reject) {
          failed.incrementAndGet();
          LOG.warn("Cannot cache a change to {}: {}", reject.table(), reject.reason());
        } else {
          operations.add(operation);
        }
      }
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug("Batch of {} changes up to {}: {}", batch.size(), batchPosition, operations);
    }
    BatchOutcome outcome = applyWithRetries(operations, batchPosition);
    changes.addAndGet(batch.size());
    written.addAndGet(outcome.written());
    evicted.addAndGet(outcome.evicted());
    stale.addAndGet(outcome.stale());
    failed.addAndGet(outcome.failures().size());
    position = batchPosition;
  }

  private BatchOutcome applyWithRetries(List<CacheOperation> operations, Version batchPosition)
      throws InterruptedException {
    Duration delay = FIRST_RETRY;
    int attempt = 0;
    while (true) {
      if (stopping.getCount() == 0 && attempt > 0) {
        throw new InterruptedException("stopping before Redis took the batch");
      }
      try {
        BatchOutcome outcome = writer.apply(operations, batchPosition);
        if (attempt > 0) {
          LOG.info("Redis took the batch again after {} failed attempts; resuming", attempt);
        }
        return outcome;
      } catch (RedisUnavailableException e) {
        attempt++;
        retries.incrementAndGet();
        LOG.warn(
            "Redis cannot take the batch at {} (attempt {}): {}; retrying in {} ms, nothing is confirmed to PostgreSQL meanwhile",
            batchPosition,
            attempt,
            e.getMessage(),
            delay.toMillis());
        if (stopping.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new InterruptedException("stopping before Redis took the batch");
        }
        delay = delay.multipliedBy(2).compareTo(MAX_RETRY) > 0 ? MAX_RETRY : delay.multipliedBy(2);
      }
    }
  }

  /** Makes a batch waiting for Redis give up, so that shutdown is not held up by an outage. */
  public void stop() {
    stopping.countDown();
  }

  /** The version of the last batch Redis acknowledged. */
  public Version position() {
    return position;
  }

  /** Counts since start, for logs and metrics. */
  public record Counts(
      long changes, long written, long evicted, long stale, long failed, long retries) {}

  public Counts counts() {
    return new Counts(
        changes.get(), written.get(), evicted.get(), stale.get(), failed.get(), retries.get());
  }
}
