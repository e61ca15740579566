package io.cachesync.metrics;

import java.util.Locale;

/** What the daemon is doing, as {@code cachesync_state{state}} and the readiness check name it. */
public enum Phase {
  /** Checking PostgreSQL, Redis and the mapping before starting. */
  PREFLIGHT,
  /**
   * Taking the writer's role, deciding between resuming and reloading, connecting; also between a
   * failed daemon and the next.
   */
  STARTING,
  /** Loading every mapped table (a first start, or Redis lost the cache); nothing is streamed. */
  LOADING,
  /** Streaming committed changes to Redis. */
  STREAMING,
  /** Another daemon of the same name holds the writer's role; this one takes over when it ends. */
  STANDBY,
  /** Redis cannot be reached or refuses writes; nothing is confirmed to PostgreSQL meanwhile. */
  WAITING_FOR_REDIS,
  /** PostgreSQL cannot be reached. */
  WAITING_FOR_POSTGRES,
  /** Finishing the batch in flight before exiting. */
  STOPPING;

  /** The label value: {@code waiting_for_redis}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
