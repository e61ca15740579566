package io.cachesync.sync;

/** Redis cannot apply a batch right now (down, loading, read-only, out of memory): retry later. */
public final class RedisUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public RedisUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
