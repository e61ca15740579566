package io.cachesync.metrics;

import java.util.Locale;

/**
 * The kind of a Redis failure, for {@code cachesync_redis_errors_total{kind}}: the error code of a
 * Redis reply ({@code READONLY}, {@code OOM}, ...), a timeout, a lost connection, or other. A fixed
 * set of values, so that a label never carries an error's text.
 */
final class RedisErrorKind {
  private RedisErrorKind() {}

  static String of(Throwable error) {
    for (Throwable cause = error; cause != null; cause = cause.getCause()) {
      String type = cause.getClass().getSimpleName();
      if (type.contains("Timeout")) {
        return "timeout";
      }
      String message = String.valueOf(cause.getMessage());
      int end = 0;
      while (end < message.length() && Character.isUpperCase(message.charAt(end))) {
        end++;
      }
      if (end >= 2 && (end == message.length() || message.charAt(end) == ' ')) {
        String code = message.substring(0, end).toLowerCase(Locale.ROOT);
        if (SyncMetrics.REDIS_ERROR_KINDS.contains(code)) {
          return code;
        }
      }
      if (type.contains("Connection")
          || cause instanceof java.io.IOException
          || message.toLowerCase(Locale.ROOT).contains("connection")) {
        return "connection";
      }
    }
    return "other";
  }
}
