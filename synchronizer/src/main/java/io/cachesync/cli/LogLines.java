package io.cachesync.cli;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What every log line of the process says about where it comes from, and in which form. */
final class LogLines {
  /** The logger context property that holds the synchronizer's name (logback.xml reads it). */
  static final String SYNCHRONIZER = "synchronizer";

  /** The appender of logback.xml that writes every line to stderr. */
  private static final String STDERR = "STDERR";

  /** logback.xml's encoder while {@link #use} has replaced it (tests go back to text). */
  private static Encoder<ILoggingEvent> textEncoder;

  private LogLines() {}

  /**
   * Names every log line after the synchronizer this process serves, on every thread: Debezium's
   * and Lettuce's threads too, which an MDC value set on the main thread would not reach. A logback
   * context property, which the pattern reads at each line ({@code %property}) and {@link
   * JsonLineEncoder} as its {@code synchronizer} field.
   */
  static void name(String synchronizer) {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      context.putProperty(SYNCHRONIZER, synchronizer);
    }
  }

  /**
   * Writes every following line in {@code format}. The text form is logback.xml's; for JSON the
   * stderr appender gets a {@link JsonLineEncoder} instead, before the first line is logged.
   */
  static synchronized void use(LogFormat format) {
    OutputStreamAppender<ILoggingEvent> stderr = stderr();
    if (stderr == null || format == format()) {
      return;
    }
    Encoder<ILoggingEvent> encoder;
    if (format == LogFormat.JSON) {
      textEncoder = stderr.getEncoder();
      encoder = new JsonLineEncoder();
      encoder.setContext(stderr.getContext());
      encoder.start();
    } else {
      encoder = textEncoder;
    }
    stderr.stop();
    stderr.setEncoder(encoder);
    stderr.start();
  }

  /** The form lines take now. */
  static LogFormat format() {
    OutputStreamAppender<ILoggingEvent> stderr = stderr();
    return stderr != null && stderr.getEncoder() instanceof JsonLineEncoder
        ? LogFormat.JSON
        : LogFormat.TEXT;
  }

  private static OutputStreamAppender<ILoggingEvent> stderr() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
      Appender<ILoggingEvent> appender =
          context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender(STDERR);
      if (appender instanceof OutputStreamAppender<ILoggingEvent> stream) {
        return stream;
      }
    }
    return null;
  }
}
