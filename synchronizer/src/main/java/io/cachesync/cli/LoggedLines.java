package io.cachesync.cli;

import java.io.Writer;
import org.slf4j.Logger;

/**
 * A command's error output as log events, one ERROR event per line, so that with {@code
 * CACHESYNC_LOG_FORMAT=json} every line on stderr is a JSON object: what commands print there
 * ("error: ...", preflight FAILs, picocli's usage errors) goes through the log.
 */
final class LoggedLines extends Writer {
  private final Logger log;
  private final StringBuilder line = new StringBuilder();

  LoggedLines(Logger log) {
    this.log = log;
  }

  @Override
  public synchronized void write(char[] buffer, int offset, int length) {
    for (int i = offset; i < offset + length; i++) {
      char c = buffer[i];
      if (c == '\n') {
        emit();
      } else if (c != '\r') {
        line.append(c);
      }
    }
  }

  @Override
  public synchronized void flush() {
    // A line is logged once it ends; flushing does not cut it in two.
  }

  @Override
  public synchronized void close() {
    emit();
  }

  private void emit() {
    if (!line.isEmpty()) {
      log.error("{}", line);
      line.setLength(0);
    }
  }
}
