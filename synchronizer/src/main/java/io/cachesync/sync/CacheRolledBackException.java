package io.cachesync.sync;

import io.cachesync.model.Version;

/**
 * Redis holds an older position than one it acknowledged before: it lost acknowledged batches (a
 * Sentinel failover to a replica that was behind, or a restore from a backup). Retrying the batch
 * would not bring them back; the changes since what Redis holds must be streamed again.
 */
public final class CacheRolledBackException extends RuntimeException {
  private final Version acknowledged;
  private final String held;

  public CacheRolledBackException(Version acknowledged, String held) {
    super(
        "Redis holds position "
            + held
            + " although it acknowledged "
            + acknowledged
            + " before: acknowledged writes were lost (a failover to a replica that was behind,"
            + " or a restore)");
    this.acknowledged = acknowledged;
    this.held = held;
  }

  public Version acknowledged() {
    return acknowledged;
  }

  /** What Redis holds: a position's 32 hex digits, or {@code none}. */
  public String held() {
    return held;
  }
}
