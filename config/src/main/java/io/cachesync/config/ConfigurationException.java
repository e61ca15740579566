package io.cachesync.config;

import java.util.List;

/** Every problem found in the configuration, reported together. */
public final class ConfigurationException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient List<Problem> problems;

  public ConfigurationException(List<Problem> problems) {
    super(describe(problems));
    this.problems = List.copyOf(problems);
  }

  public List<Problem> problems() {
    return problems;
  }

  private static String describe(List<Problem> problems) {
    StringBuilder text = new StringBuilder();
    text.append(
        problems.size() == 1
            ? "1 configuration problem:"
            : problems.size() + " configuration problems:");
    for (int i = 0; i < problems.size(); i++) {
      text.append(System.lineSeparator())
          .append("  ")
          .append(i + 1)
          .append(". ")
          .append(problems.get(i));
    }
    return text.toString();
  }
}
