package io.cachesync.sync;

import io.cachesync.model.Version;

/** Redis cannot apply a batch right now (down, loading, read-only, out of memory): retry later. */
public final class RedisUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int applied;
  private final Version acknowledged;

  public RedisUnavailableException(String message, Throwable cause) {
    this(message, cause, 0, Version.ZERO);
  }

  private RedisUnavailableException(
      String message, Throwable cause, int applied, Version acknowledged) {
    super(message, cause);
    this.applied = applied;
    this.acknowledged = acknowledged;
  }

  /**
   * This failure, noting that the batch's first {@code operations} were applied and {@code
   * acknowledged} stored with them before it: a retry goes on from there, and checks that Redis
   * still holds that position.
   */
  public RedisUnavailableException afterApplying(int operations, Version acknowledged) {
    return new RedisUnavailableException(getMessage(), getCause(), operations, acknowledged);
  }

  /** How many of the batch's operations Redis holds, with their position, despite the failure. */
  public int applied() {
    return applied;
  }

  /**
   * The position Redis acknowledged with the {@link #applied()} operations ({@link Version#ZERO}
   * when none was stored during the batch).
   */
  public Version acknowledged() {
    return acknowledged;
  }
}
