package io.cachesync.cli;

import java.util.Locale;

/**
 * The form of the log lines on stderr, chosen by {@code CACHESYNC_LOG_FORMAT}: {@code text} (the
 * default, for people) or {@code json} (one object per line, for log collectors).
 */
enum LogFormat {
  TEXT,
  JSON;

  static final String VARIABLE = "CACHESYNC_LOG_FORMAT";

  /**
   * The format {@code value} names; unset or empty is {@code text}. An unknown value is refused
   * rather than replaced: a collector that expects JSON would drop text lines, the warning with
   * them.
   */
  static LogFormat parse(String value) {
    if (value == null || value.isEmpty()) {
      return TEXT;
    }
    for (LogFormat format : values()) {
      if (format.configName().equals(value)) {
        return format;
      }
    }
    throw new IllegalArgumentException(
        VARIABLE
            + " is '"
            + value
            + "'; use text (the default: readable lines) or json (one JSON object per line)");
  }

  /** The format the environment asks for. */
  static LogFormat fromEnvironment() {
    return parse(System.getenv(VARIABLE));
  }

  /** The value in the environment. */
  String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
