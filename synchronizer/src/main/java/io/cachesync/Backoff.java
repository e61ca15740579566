package io.cachesync;

import java.time.Duration;

/**
 * Capped exponential backoff between attempts: {@code first}, doubled after each attempt up to
 * {@code max}. One caller's attempts use one instance; not thread-safe.
 */
public final class Backoff {
  private final Duration first;
  private final Duration max;
  private Duration next;

  public Backoff(Duration first, Duration max) {
    this.first = first;
    this.max = max;
    this.next = first;
  }

  /** The wait before the next attempt; the one after it is twice as long, at most {@code max}. */
  public Duration next() {
    Duration delay = next;
    next = next.multipliedBy(2).compareTo(max) > 0 ? max : next.multipliedBy(2);
    return delay;
  }

  /** Back to {@code first}, after an attempt that succeeded. */
  public void reset() {
    next = first;
  }
}
