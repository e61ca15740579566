package io.cachesync.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.boolex.EventEvaluatorBase;

/**
 * Which log lines print without their stack trace: the Redis client's failed reconnects. It logs
 * one every few seconds while Redis cannot be reached, with the whole trace when the cause is not a
 * plain refusal (a TLS certificate the settings do not trust, say); the line itself names the
 * cause, and the daemon's own retry lines say what to check. logback.xml names it for the text
 * form; the JSON form asks {@link #hides}.
 */
public final class ReconnectTraceFilter extends EventEvaluatorBase<ILoggingEvent> {
  static final String RECONNECTS = "io.lettuce.core.protocol.ConnectionWatchdog";

  /** Whether {@code event} is written without its stack trace. */
  static boolean hides(ILoggingEvent event) {
    return RECONNECTS.equals(event.getLoggerName());
  }

  @Override
  public boolean evaluate(ILoggingEvent event) {
    return hides(event);
  }
}
