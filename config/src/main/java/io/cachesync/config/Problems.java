package io.cachesync.config;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects the problems of one load, so that every one is reported at once, and the warnings: what
 * works but should be changed.
 */
final class Problems {
  private final List<Problem> problems = new ArrayList<>();
  private final List<Problem> warnings = new ArrayList<>();

  void add(String file, YamlNode.Location location, String path, String message) {
    int line = location == null ? 0 : location.line();
    int column = location == null ? 0 : location.column();
    problems.add(new Problem(file, line, column, path, message));
  }

  void warn(String file, YamlNode.Location location, String path, String message) {
    int line = location == null ? 0 : location.line();
    int column = location == null ? 0 : location.column();
    warnings.add(new Problem(file, line, column, path, message));
  }

  List<Problem> warnings() {
    return List.copyOf(warnings);
  }

  List<Problem> list() {
    return List.copyOf(problems);
  }

  boolean isEmpty() {
    return problems.isEmpty();
  }

  int size() {
    return problems.size();
  }

  void throwIfAny() throws ConfigurationException {
    if (!problems.isEmpty()) {
      throw new ConfigurationException(problems);
    }
  }
}
