package io.cachesync.config;

import static java.util.Objects.requireNonNull;

/**
 * One thing wrong in a configuration file, located precisely enough to fix without searching:
 * {@code mapping.yml:7:5: tables[1].format: 'hsah' is not one of hash, json (did you mean
 * 'hash'?)}.
 *
 * @param file the file as the user named it
 * @param line 1-based line, or 0 when the problem is about the file as a whole
 * @param column 1-based column, or 0 when the problem is about the file as a whole
 * @param path the key path, such as {@code tables[1].format}; empty for the document itself
 */
public record Problem(String file, int line, int column, String path, String message) {

  public Problem {
    requireNonNull(file, "file");
    requireNonNull(path, "path");
    requireNonNull(message, "message");
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder(file);
    if (line > 0) {
      text.append(':').append(line).append(':').append(column);
    }
    text.append(": ");
    if (!path.isEmpty()) {
      text.append(path).append(": ");
    }
    return text.append(message).toString();
  }
}
