package io.cachesync.metrics;

import java.time.Duration;

/**
 * The answers of the health checks, from state the daemon already holds. Liveness says "restart
 * me": only a daemon that makes no progress and waits on nothing fails it. Readiness says "do not
 * trust the cache yet" and names why.
 */
public final class Health {
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

  /** Ready when streaming with a lag below {@code maxLag}. */
  public static Verdict ready(Phase phase, double lagSeconds, Duration maxLag) {
    String reason =
        switch (phase) {
          case STREAMING ->
              lagSeconds >= maxLag.toSeconds() ? "lag " + Math.round(lagSeconds) + " s" : "";
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
