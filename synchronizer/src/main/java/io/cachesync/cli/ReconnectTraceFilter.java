package io.cachesync.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.boolex.EventEvaluatorBase;

/**
 * Which log lines print without their stack trace: the Redis client's failed reconnects, and on a
 * Redis Cluster its failed connects to a node while it reads the topology. It logs one every few
 * seconds while Redis cannot be reached (on a cluster, one for each node, also in a command that
 * then fails), with the whole trace when the cause is not a plain refusal (a TLS certificate the
 * settings do not trust, or a client certificate the server requires, say); the line itself names
 * the node and the cause, and the daemon's own retry lines and the commands' errors say what to
 * check. logback.xml names it for the text form; the JSON form asks {@link #hides}.
 */
public final class ReconnectTraceFilter extends EventEvaluatorBase<ILoggingEvent> {
  static final String RECONNECTS = "io.lettuce.core.protocol.ConnectionWatchdog";
  static final String TOPOLOGY_REFRESHES =
      "io.lettuce.core.cluster.topology.DefaultClusterTopologyRefresh";

  /** Whether {@code event} is written without its stack trace. */
  static boolean hides(ILoggingEvent event) {
    return RECONNECTS.equals(event.getLoggerName())
        || TOPOLOGY_REFRESHES.equals(event.getLoggerName());
  }

  @Override
  public boolean evaluate(ILoggingEvent event) {
    return hides(event);
  }
}
