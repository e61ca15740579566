package io.cachesync.job;

import io.cachesync.model.Version;
import io.cachesync.state.StateStore;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Waits until the synchronizer has applied every transaction committed before a WAL position, as
 * the position it stores with each batch shows ({@link Version#applied()}; an initial load's
 * position proves nothing until the stream applied a batch after it). On an idle database the
 * position moves with Debezium's heartbeats, every 10 seconds.
 *
 * <p>Whoever acts on what PostgreSQL holds now, while the stream may still be behind, waits here
 * first: verify, before it counts a difference as drift, and the orphan sweeps, before they delete
 * the key of a row that is gone. A change the stream has not applied yet may still need that key:
 * an UPDATE that moved the row to another key and left a TOASTed column alone merges the column
 * from the old key's cached value, and finds nothing to merge once the key was deleted.
 */
public final class StreamFence {
  private static final long POLL_MILLIS = 100;

  private final StateStore state;
  private final Duration atMost;

  /**
   * @param state where the synchronizer stores its position
   * @param atMost how long {@link #reached} waits
   */
  public StreamFence(StateStore state, Duration atMost) {
    this.state = state;
    this.atMost = atMost;
  }

  /** Whether a stored position shows every transaction committed before {@code lsn} applied. */
  static boolean passed(Optional<Version> position, long lsn) {
    return position
        .filter(version -> !version.initialLoad() && !version.equals(Version.ZERO))
        .map(version -> Long.compareUnsigned(version.applied(), lsn) >= 0)
        .orElse(false);
  }

  /**
   * Waits until the stored position passed {@code lsn}; false when it did not within the time
   * given, or the thread was interrupted (its interrupt status is kept).
   */
  public boolean reached(long lsn) {
    long deadline = System.nanoTime() + atMost.toNanos();
    // A latch nobody counts down: a timed wait between two reads of the position, not a guess
    // at when it moves.
    CountDownLatch never = new CountDownLatch(1);
    while (!passed(state.position(), lsn)) {
      if (System.nanoTime() >= deadline) {
        return false;
      }
      try {
        never.await(POLL_MILLIS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /**
   * As {@link #reached}, for a step that must not run before.
   *
   * @throws StreamBehindException when the position did not pass {@code lsn} in time
   */
  public void awaitApplied(long lsn) {
    if (!reached(lsn)) {
      throw new StreamBehindException(
          "the synchronizer has not applied the WAL up to "
              + Version.lsnText(lsn)
              + " within "
              + atMost.toSeconds()
              + " s (it stores "
              + state.position().map(Version::toString).orElse("no position")
              + ")");
    }
  }

  /** The stream did not reach a position in time. */
  public static final class StreamBehindException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    StreamBehindException(String message) {
      super(message);
    }
  }
}
