package io.cachesync.cli;

import ch.qos.logback.classic.LoggerContext;
import org.slf4j.LoggerFactory;

/** What every log line of the process says about where it comes from. */
final class LogLines {
  private LogLines() {}

  /**
   * Names every log line after the synchronizer this process serves, on every thread: Debezium's
   * and Lettuce's threads too, which an MDC value set on the main thread would not reach. A logback
   * context property, which the pattern reads at each line ({@code %property}).
   */
  static void name(String synchronizer) {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      context.putProperty("synchronizer", synchronizer);
    }
  }
}
