package io.cachesync.metrics;

import java.time.Duration;
import java.util.Optional;

/**
 * The answers of the health checks, from state the daemon already holds. Liveness says "restart
 * me": only a daemon that makes no progress and waits on nothing fails it. Readiness says "do not
 * trust the cache yet" and names why.
 */
public final class Health {
  /** Two heartbeats (every 10 s) missed: the stream is not flowing, whatever the lag says. */
  static final Duration HEARTBEATS_MISSED = Duration.ofSeconds(20);

  private Health() {}

  /**
   * One answer.
   *
   * @param reason why not, for people and scripts ({@code loading}, {@code redis unavailable},
   *     {@code lag 42 s}); empty when healthy
   */
  public record Verdict(boolean healthy, Phase phase, String reason, double lagSeconds) {
    /** The body of the HTTP answer: one JSON object. */
    public String json() {
      return "{\"status\":\""
          + (healthy ? "UP" : "DOWN")
          + "\",\"state\":\""
          + phase.label()
          + "\",\"lagSeconds\":"
          + Math.round(lagSeconds * 1000) / 1000.0
          + (reason.isEmpty() ? "" : ",\"reason\":\"" + reason + "\"")
          + "}";
    }
  }

  /**
   * Alive unless loading or streaming made no progress (no batch acknowledged, no retry scheduled,
   * no change of state) for longer than {@code deadline}. Waiting on a server, standing by and the
   * preflight are progress of their own: a restart would not help them.
   *
   * @param sinceProgress time since the last progress
   */
  public static Verdict live(Phase phase, Duration sinceProgress, Duration deadline, double lag) {
    boolean working = phase == Phase.LOADING || phase == Phase.STREAMING;
    if (working && sinceProgress.compareTo(deadline) > 0) {
      return new Verdict(
          false,
          phase,
          "no batch completed and no retry scheduled for "
              + sinceProgress.toSeconds()
              + " s (deadline "
              + deadline.toSeconds()
              + " s)",
          lag);
    }
    return new Verdict(true, phase, "", lag);
  }

  /**
   * Ready when streaming with a lag below {@code maxLag}, once a batch or a heartbeat went through
   * since streaming began, and while they keep coming (a heartbeat every 10 s even on an idle
   * database).
   *
   * @param sinceBatch time since the last batch or heartbeat acknowledged since streaming began;
   *     empty when none was yet
   */
  public static Verdict ready(
      Phase phase, double lagSeconds, Optional<Duration> sinceBatch, Duration maxLag) {
    Duration silence = maxLag.plus(HEARTBEATS_MISSED);
    String reason =
        switch (phase) {
          case STREAMING -> {
            if (sinceBatch.isEmpty()) {
              yield "nothing streamed yet";
            }
            if (sinceBatch.get().compareTo(silence) > 0) {
              yield "nothing streamed for " + sinceBatch.get().toSeconds() + " s";
            }
            yield lagSeconds >= maxLag.toSeconds() ? "lag " + Math.round(lagSeconds) + " s" : "";
          }
          case STARTING -> "starting";
          case LOADING -> "loading";
          case PREFLIGHT -> "preflight";
          case STANDBY -> "standby";
          case WAITING_FOR_REDIS -> "redis unavailable";
          case WAITING_FOR_POSTGRES -> "postgres unavailable";
          case STOPPING -> "stopping";
        };
    return new Verdict(reason.isEmpty(), phase, reason, lagSeconds);
  }
}
