package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * The daemon's HTTP endpoint: Prometheus metrics and the health checks.
 *
 * @param enabled false for {@code http: off}
 * @param host the address to listen on; only this machine by default
 * @param port the port; 0 picks a free one (the daemon logs it)
 * @param readyLag the lag above which {@code /health/ready} answers 503
 * @param stallDeadline how long the daemon may go without completing a batch or a heartbeat, and
 *     without a retry scheduled, before {@code /health/live} answers 503 (wedged: restart it)
 */
public record HttpSettings(
    boolean enabled, String host, int port, Duration readyLag, Duration stallDeadline) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 9464;
  public static final Duration DEFAULT_READY_LAG = Duration.ofSeconds(30);
  public static final Duration DEFAULT_STALL_DEADLINE = Duration.ofSeconds(120);

  /** The endpoint on 127.0.0.1:9464 with the default thresholds. */
  public static final HttpSettings DEFAULT =
      new HttpSettings(true, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_READY_LAG, DEFAULT_STALL_DEADLINE);

  /** No endpoint ({@code http: off}). */
  public static final HttpSettings OFF =
      new HttpSettings(
          false, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_READY_LAG, DEFAULT_STALL_DEADLINE);

  public HttpSettings {
    requireNonNull(host, "host");
    requireNonNull(readyLag, "readyLag");
    requireNonNull(stallDeadline, "stallDeadline");
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("http port " + port + " is out of range (0 to 65535)");
    }
  }
}
