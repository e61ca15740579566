package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * Replaces {@code ${VAR}} and {@code ${VAR:-default}} in configuration values with environment
 * variables; {@code $${} stands for a literal {@code ${}. Interpolation runs on each scalar after
 * parsing, so a value cannot change the YAML structure and problems keep their line and column.
 */
final class Interpolator {
  private final Map<String, String> environment;

  Interpolator(Map<String, String> environment) {
    this.environment = Map.copyOf(requireNonNull(environment, "environment"));
  }

  /**
   * Interpolates {@code text}.
   *
   * @throws IllegalArgumentException naming the variable that is not set, or the unclosed reference
   */
  String interpolate(String text) {
    if (text.indexOf('$') < 0) {
      return text;
    }
    StringBuilder result = new StringBuilder(text.length());
    int i = 0;
    while (i < text.length()) {
      if (text.startsWith("$${", i)) {
        result.append("${");
        i += 3;
      } else if (text.startsWith("${", i)) {
        int close = text.indexOf('}', i + 2);
        if (close < 0) {
          throw new IllegalArgumentException(
              "unclosed '${' in '" + text + "' (write ${NAME}, or $${ for a literal ${)");
        }
        result.append(resolve(text.substring(i + 2, close)));
        i = close + 1;
      } else {
        result.append(text.charAt(i));
        i++;
      }
    }
    return result.toString();
  }

  private String resolve(String reference) {
    int separator = reference.indexOf(":-");
    String name = separator < 0 ? reference : reference.substring(0, separator);
    if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new IllegalArgumentException(
          "'${"
              + reference
              + "}' does not name an environment variable (write ${NAME} or ${NAME:-default})");
    }
    String value = environment.get(name);
    if (value != null) {
      return value;
    }
    if (separator >= 0) {
      return reference.substring(separator + 2);
    }
    throw new IllegalArgumentException(
        "environment variable "
            + name
            + " is not set (export it, or give a default: ${"
            + name
            + ":-value})");
  }
}
