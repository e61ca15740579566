package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * Replaces {@code ${VAR}} and {@code ${VAR:-default}} in configuration values with environment
 * variables; {@code $${} stands for a literal {@code ${}. Interpolation runs on each scalar after
 * parsing, so a value cannot change the YAML structure and problems keep their line and column.
 *
 * <p>The messages about a secret value (a password, a URI that may hold one) quote no part of it:
 * a password may hold {@code ${} by accident, and what follows it is then the password, not a
 * variable's name. Only a secret value that is exactly one reference, such as {@code
 * ${PGPASSWORD}}, has its variable named, since that text holds no password.
 */
final class Interpolator {
  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  private static final Pattern ONE_REFERENCE =
      Pattern.compile("\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?}");

  private final Map<String, String> environment;

  Interpolator(Map<String, String> environment) {
    this.environment = Map.copyOf(requireNonNull(environment, "environment"));
  }

  /**
   * Interpolates {@code text}, a value that is not secret.
   *
   * @throws IllegalArgumentException naming the variable that is not set, or the unclosed reference
   */
  String interpolate(String text) {
    return interpolate(text, false);
  }

  /**
   * Interpolates {@code text}.
   *
   * @param secret whether {@code text} may hold a password, which no message then quotes
   * @throws IllegalArgumentException naming the variable that is not set, or the unclosed reference
   */
  String interpolate(String text, boolean secret) {
    if (text.indexOf('$') < 0) {
      return text;
    }
    boolean quotable = !secret || ONE_REFERENCE.matcher(text).matches();
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
              quotable
                  ? "unclosed '${' in '" + text + "' (write ${NAME}, or $${ for a literal ${)"
                  : secretProblem("has an unclosed '${'"));
        }
        result.append(resolve(text.substring(i + 2, close), quotable));
        i = close + 1;
      } else {
        result.append(text.charAt(i));
        i++;
      }
    }
    return result.toString();
  }

  private String resolve(String reference, boolean quotable) {
    int separator = reference.indexOf(":-");
    String name = separator < 0 ? reference : reference.substring(0, separator);
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          quotable
              ? "'${"
                  + reference
                  + "}' does not name an environment variable (write ${NAME} or ${NAME:-default})"
              : secretProblem("has a '${...}' that does not name an environment variable"));
    }
    String value = environment.get(name);
    if (value != null) {
      return value;
    }
    if (separator >= 0) {
      return reference.substring(separator + 2);
    }
    throw new IllegalArgumentException(
        quotable
            ? "environment variable "
                + name
                + " is not set (export it, or give a default: ${"
                + name
                + ":-value})"
            : secretProblem("names an environment variable that is not set"));
  }

  private static String secretProblem(String problem) {
    return "the value (secret, not shown) "
        + problem
        + "; write $${ for a literal ${ in a password, or set the variables it names"
        + " (e.g. password: ${PGPASSWORD})";
  }
}
