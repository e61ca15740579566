package io.cachesync.source;

/**
 * Tells from Debezium's "Initial Snapshot" notifications when the initial load is done.
 *
 * <p>{@code COMPLETED} says so. So does {@code SKIPPED} once a load was seen starting: Debezium
 * restarted its task after a lost connection (as streaming began, say) and found the load finished
 * in the committed offsets, which are committed only for records cachesync applied. The {@code
 * COMPLETED} notification was then dropped with the records still queued in the failed task. A
 * {@code SKIPPED} with no load seen is an ordinary resumed start.
 */
final class InitialLoadWatch {
  private boolean started;
  private boolean done;

  /** A snapshot row of the initial load was applied. */
  void rowApplied() {
    started = true;
  }

  /**
   * Notes a notification's type; true when it completes the initial load (once).
   *
   * @param type STARTED, COMPLETED, SKIPPED, ABORTED or a progress type
   */
  boolean completes(String type) {
    if (done) {
      return false;
    }
    switch (type) {
      case "STARTED" -> started = true;
      case "COMPLETED" -> done = true;
      case "SKIPPED" -> done = started;
      default -> {
        // progress and ABORTED: the load goes on, or starts again after the task's restart
      }
    }
    return done;
  }
}
