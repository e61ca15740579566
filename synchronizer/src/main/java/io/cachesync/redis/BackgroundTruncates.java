package io.cachesync.redis;

import io.cachesync.model.CacheOperation.EvictTable;
import io.lettuce.core.RedisException;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finishes, on a thread of its own, the evictions of the TRUNCATEs recorded in Redis ({@link
 * PendingTruncates}) while the stream goes on: a TRUNCATE's keys are found by a SCAN of the whole
 * keyspace, which the stream must not wait for. It looks at the records when woken (a TRUNCATE left
 * unfinished by a batch) and every {@link #CHECK_EVERY} (which finds what a restart or a failover
 * left), runs each record's evictions, and removes the record once they are done.
 */
final class BackgroundTruncates implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BackgroundTruncates.class);
  static final Duration CHECK_EVERY = Duration.ofSeconds(1);

  private final RedisCommands<String, String> redis;
  private final PendingTruncates pending;
  private final TableEvictor evictor;
  private final WriterScripts scripts;
  private final Semaphore wake = new Semaphore(0);
  private final Thread thread;
  private volatile boolean closed;

  /**
   * @param redis an auto-flushing connection, shared with other threads (Lettuce's are safe to)
   */
  BackgroundTruncates(
      RedisCommands<String, String> redis,
      PendingTruncates pending,
      TableEvictor evictor,
      WriterScripts scripts) {
    this.scripts = scripts;
    this.redis = redis;
    this.pending = pending;
    this.evictor = evictor;
    this.thread = new Thread(this::run, "cachesync-truncate");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Looks at the records now rather than at the next check. */
  void wake() {
    wake.release();
  }

  private void run() {
    while (!closed) {
      try {
        for (PendingTruncates.Recorded recorded : pending.pending(redis)) {
          if (closed) {
            return;
          }
          EvictTable truncate = recorded.truncate();
          evictor.evict(truncate);
          pending.clear(redis, recorded);
          LOG.info("TRUNCATE of {} at {}: every key evicted", truncate.table(), truncate.version());
        }
      } catch (RuntimeException e) {
        String reason = String.valueOf(LettuceClients.rootCause(e).getMessage());
        if (reason.startsWith("NOSCRIPT")) {
          reloadScripts();
        }
        if (!closed) {
          LOG.warn(
              "Could not finish a TRUNCATE's evictions now ({}); trying again in {} ms",
              reason,
              CHECK_EVERY.toMillis());
        }
      }
      try {
        wake.tryAcquire(CHECK_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        wake.drainPermits();
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private void reloadScripts() {
    try {
      scripts.reload();
    } catch (RedisException e) {
      // Redis is still unavailable: the next check tries again.
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
