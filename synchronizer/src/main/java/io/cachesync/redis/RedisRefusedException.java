package io.cachesync.redis;

/** Redis answered but refused what was asked, e.g. the login. */
public final class RedisRefusedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public RedisRefusedException(String message) {
    super(message);
  }
}
