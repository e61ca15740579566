package io.cachesync.source;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * A double as PostgreSQL's {@code float8out} prints it (PostgreSQL 12 and later with {@code
 * extra_float_digits} above 0, as every PgJDBC session has it): the shortest decimal that reads
 * back as the same double, in fixed notation for decimal exponents from -4 to 14 ({@code 1}, {@code
 * 0.5}, {@code 0.0001}, {@code 100000000000000}) and in scientific notation outside them ({@code
 * 1e+15}, {@code 1.5e-05}); {@code NaN}, {@code Infinity}, {@code -Infinity}, {@code -0}.
 *
 * <p>Written here because neither the JDK nor a library prints PostgreSQL's form: Java's {@code
 * Double.toString} prints {@code 1.0} and {@code 1.0E15}, and before JDK 19 not always the shortest
 * digits. The shortest digits come from rounding the double's exact value, which is what the Ryu
 * algorithm PostgreSQL uses chooses among the shortest candidates.
 */
final class PostgresFloat8 {
  private PostgresFloat8() {}

  static String text(double value) {
    if (Double.isNaN(value)) {
      return "NaN";
    }
    if (Double.isInfinite(value)) {
      return value > 0 ? "Infinity" : "-Infinity";
    }
    if (value == 0) {
      return 1 / value < 0 ? "-0" : "0";
    }
    BigDecimal shortest = shortest(value);
    String digits = shortest.unscaledValue().abs().toString();
    // The decimal exponent of the first digit: digits d1.d2d3... x 10^exponent.
    int exponent = digits.length() - 1 - shortest.scale();
    StringBuilder text = new StringBuilder(digits.length() + 8);
    if (value < 0) {
      text.append('-');
    }
    if (exponent >= -4 && exponent < 15) {
      text.append(shortest.abs().toPlainString());
    } else {
      text.append(digits.charAt(0));
      if (digits.length() > 1) {
        text.append('.').append(digits, 1, digits.length());
      }
      text.append('e').append(exponent < 0 ? '-' : '+');
      int magnitude = Math.abs(exponent);
      if (magnitude < 10) {
        text.append('0');
      }
      text.append(magnitude);
    }
    return text.toString();
  }

  /**
   * The decimal of fewest significant digits that reads back as {@code value}, without trailing
   * zeros; of two such decimals, the one nearer the exact value. A decimal exactly halfway to the
   * next double does not count, though Java reads it back as {@code value}: PostgreSQL prints the
   * double nearest 10^23 as {@code 9.999999999999999e+22}, not {@code 1e+23} (checked against
   * PostgreSQL 15 on 12,000 doubles).
   */
  private static BigDecimal shortest(double value) {
    BigDecimal exact = new BigDecimal(value);
    BigDecimal below = halfway(exact, Math.nextDown(value));
    BigDecimal above = halfway(exact, Math.nextUp(value));
    // The shortest rarely has more digits than Java's text of the double (in JDK 17 that text is
    // not always the shortest, and in rare cases reads back as a neighbour). A length that works
    // works one digit longer too: the lengths up to Java's are searched by halves, the longer ones
    // one by one should none of those work.
    int low = 1;
    int javas =
        Math.min(17, new BigDecimal(Double.toString(value)).stripTrailingZeros().precision());
    int high = javas;
    BigDecimal found = null;
    while (low <= high) {
      int precision = (low + high) >>> 1;
      BigDecimal candidate = readingBack(value, exact, below, above, precision);
      if (candidate != null) {
        found = candidate;
        high = precision - 1;
      } else {
        low = precision + 1;
      }
    }
    for (int precision = javas + 1; found == null && precision <= 17; precision++) {
      found = readingBack(value, exact, below, above, precision);
    }
    if (found == null) {
      found = exact.round(new MathContext(17, RoundingMode.HALF_EVEN));
    }
    return found.stripTrailingZeros();
  }

  /**
   * The decimal of {@code precision} significant digits nearest the exact value that reads back as
   * {@code value}, not counting the halfway points; null when none does. Next to a power of two the
   * doubles below are closer together than those above, so the nearest decimal of a length can miss
   * while one on the other side reads back.
   */
  private static BigDecimal readingBack(
      double value, BigDecimal exact, BigDecimal below, BigDecimal above, int precision) {
    for (RoundingMode mode :
        new RoundingMode[] {RoundingMode.HALF_EVEN, RoundingMode.UP, RoundingMode.DOWN}) {
      BigDecimal candidate = exact.round(new MathContext(precision, mode));
      if (candidate.doubleValue() == value
          && candidate.compareTo(below) != 0
          && candidate.compareTo(above) != 0) {
        return candidate;
      }
    }
    return null;
  }

  private static BigDecimal halfway(BigDecimal exact, double neighbour) {
    if (Double.isInfinite(neighbour)) {
      return exact.multiply(BigDecimal.TEN);
    }
    return exact.add(new BigDecimal(neighbour)).divide(BigDecimal.valueOf(2));
  }
}
