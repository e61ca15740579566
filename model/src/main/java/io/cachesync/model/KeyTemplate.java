package io.cachesync.model;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A Redis key template: literal text and {@code {column}} placeholders, such as {@code
 * order:{tenant_id}:{id}}. A literal brace is written twice: {@code {{} and {@code }}}.
 *
 * <p>Parsing rejects every template whose keys could be ambiguous: one without a placeholder (all
 * rows would share a key), one that does not start with literal text (its keys could not be told
 * apart from other tables' keys, nor found on TRUNCATE), and one with two placeholders side by side
 * (keys {@code 1}+{@code 23} and {@code 12}+{@code 3} would coincide). Rendering refuses a value
 * that would make the key ambiguous (see {@link #render}), and {@link #match} reads back exactly
 * the keys that rendering produces.
 */
public record KeyTemplate(String text, List<Segment> segments) {

  private static final Pattern COLUMN_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_$]*");

  /** A part of a template. */
  public sealed interface Segment permits Literal, Placeholder {}

  /** Literal text, with escaped braces already resolved. */
  public record Literal(String text) implements Segment {
    public Literal {
      requireNonNull(text, "text");
    }
  }

  /** A placeholder replaced by the value of a column. */
  public record Placeholder(String column) implements Segment {
    public Placeholder {
      requireNonNull(column, "column");
    }
  }

  public KeyTemplate {
    requireNonNull(text, "text");
    segments = List.copyOf(segments);
  }

  /**
   * Parses a template.
   *
   * @throws IllegalArgumentException naming the problem and the position (1-based) where it is
   */
  public static KeyTemplate parse(String text) {
    requireNonNull(text, "text");
    List<Segment> segments = new ArrayList<>();
    StringBuilder literal = new StringBuilder();
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c == '{' && i + 1 < text.length() && text.charAt(i + 1) == '{') {
        literal.append('{');
        i += 2;
      } else if (c == '}' && i + 1 < text.length() && text.charAt(i + 1) == '}') {
        literal.append('}');
        i += 2;
      } else if (c == '}') {
        throw problem(
            text, "unmatched '}' at position " + (i + 1) + " (write '}}' for a literal brace)");
      } else if (c == '{') {
        int close = text.indexOf('}', i + 1);
        int nextOpen = text.indexOf('{', i + 1);
        if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
          throw problem(
              text, "unclosed '{' at position " + (i + 1) + " (write '{{' for a literal brace)");
        }
        String column = text.substring(i + 1, close);
        if (column.isEmpty()) {
          throw problem(text, "empty placeholder '{}' at position " + (i + 1) + " (name a column)");
        }
        if (!COLUMN_NAME.matcher(column).matches()) {
          throw problem(
              text,
              "unknown placeholder '{"
                  + column
                  + "}' at position "
                  + (i + 1)
                  + ": a placeholder is a column name (letters, digits, _ and $)");
        }
        if (literal.length() > 0) {
          segments.add(new Literal(literal.toString()));
          literal.setLength(0);
        } else if (!segments.isEmpty()
            && segments.get(segments.size() - 1) instanceof Placeholder p) {
          throw problem(
              text,
              "placeholders {"
                  + p.column()
                  + "} and {"
                  + column
                  + "} are adjacent, so two rows could get the same key; put literal text between"
                  + " them, e.g. '{"
                  + p.column()
                  + "}:{"
                  + column
                  + "}'");
        }
        segments.add(new Placeholder(column));
        i = close + 1;
      } else {
        literal.append(c);
        i++;
      }
    }
    if (literal.length() > 0) {
      segments.add(new Literal(literal.toString()));
    }
    if (segments.stream().noneMatch(Placeholder.class::isInstance)) {
      throw problem(
          text, "no {column} placeholder, so every row would share one key (e.g. 'user:{id}')");
    }
    if (!(segments.get(0) instanceof Literal)) {
      throw problem(
          text,
          "must start with literal text such as 'user:', the prefix that keeps its keys apart from"
              + " other tables' keys and finds them on TRUNCATE");
    }
    return new KeyTemplate(text, segments);
  }

  private static IllegalArgumentException problem(String text, String message) {
    return new IllegalArgumentException("key '" + text + "': " + message);
  }

  /** The columns named by placeholders, in order of first appearance. */
  public Set<String> columns() {
    Set<String> columns = new LinkedHashSet<>();
    for (Segment segment : segments) {
      if (segment instanceof Placeholder placeholder) {
        columns.add(placeholder.column());
      }
    }
    return columns;
  }

  /** The literal text every key of this template starts with, e.g. {@code user:}. */
  public String literalPrefix() {
    return ((Literal) segments.get(0)).text();
  }

  /**
   * The Redis glob pattern of every key under this template's literal prefix, for {@code SCAN
   * MATCH} (and an ACL key pattern): the prefix with its glob characters escaped, then {@code *}.
   * Every search for a table's keys starts from this one pattern, and no other is built from a
   * template: {@code user[1]:{id}} scans {@code user\[1\]:*}, not every {@code user1:...}, and
   * {@code a\b:{id}} scans {@code a\\b:*}, which an unescaped pattern ({@code a\b:*}, read as
   * {@code ab:*}) would miss entirely.
   *
   * <p>The pattern only narrows what Redis returns; a key is the table's only when {@link #match}
   * reads it back. It ends with its only {@code *}, on purpose: Redis matches several stars by
   * backtracking over the key (a 100 KB key value is a valid key; before Redis 6.2.11 and 7.0.9 in
   * time exponential in the number of stars), while one trailing star is a prefix comparison.
   */
  public String prefixGlob() {
    return escapeGlob(literalPrefix()) + "*";
  }

  /**
   * {@code literal} with every character Redis's glob matching treats specially ({@code * ? [ ] \})
   * escaped by a backslash, so that the pattern matches exactly that text.
   */
  public static String escapeGlob(String literal) {
    StringBuilder escaped = new StringBuilder(literal.length() + 8);
    for (int i = 0; i < literal.length(); i++) {
      char c = literal.charAt(i);
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
        escaped.append('\\');
      }
      escaped.append(c);
    }
    return escaped.toString();
  }

  /**
   * Whether a key of this template could equal a key of the other: true when one literal prefix
   * starts with the other.
   *
   * <p>Two prefixes where neither starts the other differ at a position inside both, so no key can
   * start with both: their tables' keys can never coincide, whatever the columns' values and types,
   * and a TRUNCATE or sweep of one never even scans the other's keys. A shared prefix is refused
   * even where the columns' types would keep the keys apart ({@code user:{id}} and {@code
   * user:{id}:profile} with an integer id): Redis holds no types, and the TRUNCATE, the sweeps and
   * {@code verify} recognise a table's keys by its template alone, by which {@code user:5:profile}
   * is a key of {@code user:{id}} (id {@code 5:profile}). With a text id the two would really share
   * keys: the row of {@code user:{id}} whose id is {@code 5:profile} and the row 5 of the other
   * table.
   */
  public boolean mayCollideWith(KeyTemplate other) {
    return literalPrefix().startsWith(other.literalPrefix())
        || other.literalPrefix().startsWith(literalPrefix());
  }

  /**
   * Renders the key of a row.
   *
   * <p>One rule decides which values can be rendered, and {@link #match} is its exact inverse: a
   * value must be present and non-empty, and when literal text follows its placeholder, that text
   * must first occur in the key right after the value. A value that contains the text, or ends with
   * the start of it (in {@code t:{a}::{b}}, an {@code a} ending in {@code :}), is refused: the key
   * would be read back as other values, so two rows could share it.
   *
   * @param values the text form of each placeholder column
   * @throws KeyRenderException when a value is missing, empty, or would make the key ambiguous
   */
  public String render(Function<String, String> values) {
    StringBuilder key = new StringBuilder(text.length() + 16);
    for (int i = 0; i < segments.size(); i++) {
      Segment segment = segments.get(i);
      if (segment instanceof Literal literal) {
        key.append(literal.text());
      } else if (segment instanceof Placeholder placeholder) {
        String value = values.apply(placeholder.column());
        refusal(i, placeholder.column(), value)
            .ifPresent(
                reason -> {
                  throw new KeyRenderException("key '" + text + "': " + reason);
                });
        key.append(value);
      }
    }
    return key.toString();
  }

  /**
   * Renders the key of a row from the text form of its key columns ({@link ColumnValue#fieldText}),
   * the one form every path (stream, load, verify, sweep) keys by.
   *
   * @throws KeyRenderException as {@link #render(Function)}
   */
  public String render(Row row) {
    return render(column -> row.get(column).flatMap(ColumnValue::fieldText).orElse(null));
  }

  /** Why the value of the placeholder at segment {@code index} cannot be rendered, if it cannot. */
  private Optional<String> refusal(int index, String column, String value) {
    if (value == null) {
      return Optional.of("column " + column + " is NULL or missing");
    }
    if (value.isEmpty()) {
      return Optional.of(
          "column "
              + column
              + " is empty: a key is never rendered with an empty part (one such as 'user:' would be"
              + " the table's bare key prefix); give the row a non-empty value");
    }
    if (index + 1 < segments.size() && segments.get(index + 1) instanceof Literal next) {
      String separator = next.text();
      if (value.contains(separator)) {
        return Optional.of(
            "the value of column "
                + column
                + " contains '"
                + separator
                + "', which would make the key ambiguous");
      }
      if ((value + separator).indexOf(separator) != value.length()) {
        return Optional.of(
            "the value of column "
                + column
                + " ends with the start of the following '"
                + separator
                + "', which would make the key ambiguous");
      }
    }
    return Optional.empty();
  }

  /**
   * The column values a key was rendered from: the exact inverse of {@link #render}. Each value
   * runs to the first occurrence of the literal text that follows its placeholder (the last one to
   * the end of the key); the values found must render the key again, so every key that {@code
   * render} would not produce, from any values, is refused.
   *
   * @return empty when {@code key} is not a key of this template
   */
  public Optional<Map<String, String>> match(String key) {
    Map<String, String> values = new LinkedHashMap<>();
    int position = 0;
    for (int i = 0; i < segments.size(); i++) {
      Segment segment = segments.get(i);
      if (segment instanceof Literal literal) {
        if (!key.startsWith(literal.text(), position)) {
          return Optional.empty();
        }
        position += literal.text().length();
      } else if (segment instanceof Placeholder placeholder) {
        int end =
            i + 1 < segments.size()
                ? key.indexOf(((Literal) segments.get(i + 1)).text(), position)
                : key.length();
        if (end < 0) {
          return Optional.empty();
        }
        String value = key.substring(position, end);
        String previous = values.putIfAbsent(placeholder.column(), value);
        if (previous != null && !previous.equals(value)) {
          return Optional.empty();
        }
        position = end;
      }
    }
    if (position != key.length()) {
      return Optional.empty();
    }
    try {
      return render(values::get).equals(key) ? Optional.of(values) : Optional.empty();
    } catch (KeyRenderException refused) {
      return Optional.empty();
    }
  }

  @Override
  public String toString() {
    return text;
  }
}
