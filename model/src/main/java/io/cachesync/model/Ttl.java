package io.cachesync.model;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The expiry set on every write of a table's keys, in whole seconds. */
public record Ttl(Duration duration) {

  private static final Pattern PART = Pattern.compile("(\\d+)([smhd])");

  public Ttl {
    requireNonNull(duration, "duration");
    if (duration.isNegative() || duration.isZero() || duration.toNanos() % 1_000_000_000L != 0) {
      throw new IllegalArgumentException("a ttl is a positive number of whole seconds");
    }
  }

  /**
   * Parses a duration such as {@code 90s}, {@code 15m}, {@code 1h}, {@code 7d} or {@code 1h30m}:
   * one or more numbers, each followed by a unit ({@code s}, {@code m}, {@code h}, {@code d}).
   */
  public static Ttl parse(String text) {
    requireNonNull(text, "text");
    String problem =
        "'" + text + "' is not a positive duration (write a number and a unit: 90s, 15m, 1h, 7d)";
    Matcher matcher = PART.matcher(text);
    Duration total = Duration.ZERO;
    int end = 0;
    while (matcher.lookingAt()) {
      long amount;
      try {
        amount = Long.parseLong(matcher.group(1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(problem, e);
      }
      total = total.plus(unit(matcher.group(2)).multipliedBy(amount));
      end = matcher.end();
      matcher.region(end, text.length());
    }
    if (end == 0 || end != text.length() || total.isZero()) {
      throw new IllegalArgumentException(problem);
    }
    return new Ttl(total);
  }

  public long seconds() {
    return duration.getSeconds();
  }

  private static Duration unit(String unit) {
    return switch (unit) {
      case "s" -> Duration.ofSeconds(1);
      case "m" -> Duration.ofMinutes(1);
      case "h" -> Duration.ofHours(1);
      case "d" -> Duration.ofDays(1);
      default -> throw new IllegalStateException("unit " + unit);
    };
  }

  @Override
  public String toString() {
    long seconds = seconds();
    if (seconds % 86_400 == 0) {
      return seconds / 86_400 + "d";
    }
    if (seconds % 3_600 == 0) {
      return seconds / 3_600 + "h";
    }
    if (seconds % 60 == 0) {
      return seconds / 60 + "m";
    }
    return seconds + "s";
  }
}
