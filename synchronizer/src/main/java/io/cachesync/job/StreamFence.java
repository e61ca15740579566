package io.cachesync.job;

import io.cachesync.model.Version;
import io.cachesync.state.StateStore;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Waits until the synchronizer has applied every transaction committed before a WAL position, as
 * the bound it stores with each batch shows ({@link StateStore#applied()}, from {@link
 * Version#applied()}; absent until the stream applied a batch after a load). {@link #take} marks
 * the position to wait for, so that it is reached within a batch even on an idle database.
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
  private final CountDownLatch stop;

  /**
   * @param state where the synchronizer stores its position
   * @param atMost how long {@link #reached} waits
   */
  public StreamFence(StateStore state, Duration atMost) {
    this(state, atMost, new CountDownLatch(1));
  }

  /**
   * @param stop counted down to stop waiting (a job's Ctrl-C): {@link #reached} answers false at
   *     once
   */
  public StreamFence(StateStore state, Duration atMost, CountDownLatch stop) {
    this.state = state;
    this.atMost = atMost;
    this.stop = stop;
  }

  /**
   * A WAL position past the commit of every change the connection's reads so far have seen, which
   * the stream reaches within one batch even on an idle database: a logical decoding message that
   * the synchronizer receives itself, as the read-your-writes fence's (README). On a connection
   * inside a transaction, where the message would wait for the commit, the WAL's insert position
   * (reached with the next change or heartbeat).
   */
  public static long take(Connection connection) throws SQLException {
    boolean message = connection.getAutoCommit();
    String position =
        message
            ? "pg_catalog.pg_logical_emit_message(true, 'cachesync_fence', '')"
            // The insert position, not the write position: with synchronous_commit off a commit is
            // visible before its record is written.
            : "pg_catalog.pg_current_wal_insert_lsn()";
    try (Statement statement = connection.createStatement()) {
      if (message) {
        // The message's commit must not wait for a synchronous standby that may not answer: the
        // stream reads it from the primary's WAL.
        statement.execute("SET synchronous_commit = local");
      }
      try (ResultSet row = statement.executeQuery("SELECT " + position + " - '0/0'::pg_lsn")) {
        row.next();
        return row.getLong(1);
      }
    }
  }

  /**
   * Whether the stored bound ({@link StateStore#applied()}) shows every transaction committed
   * before {@code lsn} wholly applied: absent while the cache is loaded, held back while a
   * TRUNCATE's evictions run, the same field evict.lua checks before an orphan sweep's delete.
   */
  public static boolean passed(Optional<Long> applied, long lsn) {
    return applied.map(bound -> Long.compareUnsigned(bound, lsn) >= 0).orElse(false);
  }

  /**
   * Waits until the stored position passed {@code lsn}; false when it did not within the time
   * given, or the thread was interrupted (its interrupt status is kept).
   */
  public boolean reached(long lsn) {
    long deadline = System.nanoTime() + atMost.toNanos();
    while (!passed(state.applied(), lsn)) {
      if (System.nanoTime() >= deadline || stop.getCount() == 0) {
        return false;
      }
      try {
        // A timed wait between two reads of the position, not a guess at when it moves.
        if (stop.await(POLL_MILLIS, TimeUnit.MILLISECONDS)) {
          return false;
        }
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
    if (reached(lsn)) {
      return;
    }
    if (stop.getCount() == 0 || Thread.currentThread().isInterrupted()) {
      throw new StreamBehindException("stopped waiting for the synchronizer");
    }
    throw new StreamBehindException(
        "the synchronizer has not applied the WAL up to "
            + Version.lsnText(lsn)
            + " within "
            + atMost.toSeconds()
            + " s");
  }

  /** The stream did not reach a position in time. */
  public static final class StreamBehindException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    StreamBehindException(String message) {
      super(message);
    }
  }
}
