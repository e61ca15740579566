package io.cachesync.model;

import static java.util.Objects.requireNonNull;

/**
 * One column's value in its cached text form (see the README's value encoding). The kinds differ
 * only in how a {@code json} value embeds them: a {@link Text} is a JSON string, a {@link Number} a
 * JSON number, a {@link Json} is embedded as is.
 */
public sealed interface ColumnValue {

  /** SQL NULL: absent from a hash, {@code null} in json. */
  record Null() implements ColumnValue {}

  /** Text, also numeric (exactly as PostgreSQL prints it), uuid, dates and times, base64 bytea. */
  record Text(String text) implements ColumnValue {
    public Text {
      requireNonNull(text, "text");
    }
  }

  /** An integer or floating-point number in decimal text. */
  record Number(String text) implements ColumnValue {
    public Number {
      requireNonNull(text, "text");
    }
  }

  record Bool(boolean value) implements ColumnValue {}

  /** JSON text: json and jsonb columns, arrays, composite values. */
  record Json(String text) implements ColumnValue {
    public Json {
      requireNonNull(text, "text");
    }
  }

  /**
   * A TOASTed value that an UPDATE did not change and PostgreSQL did not send (REPLICA IDENTITY
   * DEFAULT). It is never written: the cached value keeps what it has.
   */
  record Unchanged() implements ColumnValue {}

  /**
   * A value the synchronizer cannot encode (an unknown type, a malformed value). A row holding one
   * is evicted rather than cached without it (invariant 4).
   */
  record Unencodable(String reason) implements ColumnValue {
    public Unencodable {
      requireNonNull(reason, "reason");
    }
  }

  ColumnValue NULL = new Null();
  ColumnValue UNCHANGED = new Unchanged();

  static ColumnValue text(String text) {
    return new Text(text);
  }

  /** The value as a hash field; empty for NULL and for an unchanged TOAST value. */
  default java.util.Optional<String> fieldText() {
    if (this instanceof Text t) {
      return java.util.Optional.of(t.text());
    }
    if (this instanceof Number n) {
      return java.util.Optional.of(n.text());
    }
    if (this instanceof Bool b) {
      return java.util.Optional.of(Boolean.toString(b.value()));
    }
    if (this instanceof Json j) {
      return java.util.Optional.of(j.text());
    }
    return java.util.Optional.empty();
  }

  /** The value as a JSON value; {@code null} for NULL. Must not be called on {@link Unchanged}. */
  default String jsonText() {
    if (this instanceof Text t) {
      return JsonText.quote(t.text());
    }
    if (this instanceof Number n) {
      return n.text();
    }
    if (this instanceof Bool b) {
      return Boolean.toString(b.value());
    }
    if (this instanceof Json j) {
      return j.text();
    }
    if (this instanceof Null) {
      return "null";
    }
    throw new IllegalStateException(this + " has no JSON form");
  }
}
