package io.cachesync.sync;

/** Redis cannot apply a batch right now (down, loading, read-only, out of memory): retry later. */
public final class RedisUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int applied;

  public RedisUnavailableException(String message, Throwable cause) {
    this(message, cause, 0);
  }

  private RedisUnavailableException(String message, Throwable cause, int applied) {
    super(message, cause);
    this.applied = applied;
  }

  /**
   * This failure, noting that the batch's first {@code operations} were applied and their position
   * stored before it: a retry goes on from there.
   */
  public RedisUnavailableException afterApplying(int operations) {
    return operations == applied
        ? this
        : new RedisUnavailableException(getMessage(), getCause(), operations);
  }

  /** How many of the batch's operations Redis holds, with their position, despite the failure. */
  public int applied() {
    return applied;
  }
}
