package io.cachesync.redis;

import java.util.Map;
import java.util.Objects;

/**
 * What one key held when it was read as the value of a table's format: a hash's fields, a string's
 * text, nothing, or a value of another type (then {@code type} names it, as TYPE does).
 *
 * @param fields a hash's fields as read, not copied (a million keys are read per check): the reader
 *     hands over maps nothing else holds, and this view does not let them change; only cachesync's
 *     own {@code __} fields when {@code asExpected}
 * @param asExpected a hash found to hold exactly the fields it was expected to, in their order, as
 *     it was read ({@link ExpectedHashOutput}): its other fields were not kept
 */
public record CachedValue(
    String type, Map<String, String> fields, String text, boolean asExpected) {
  public static final CachedValue ABSENT = new CachedValue("none", Map.of(), null);

  public CachedValue {
    Objects.requireNonNull(type, "type");
    if (asExpected && !type.equals("hash")) {
      throw new IllegalArgumentException("only a hash is read as expected, not a " + type);
    }
    fields = java.util.Collections.unmodifiableMap(fields);
  }

  public CachedValue(String type, Map<String, String> fields, String text) {
    this(type, fields, text, false);
  }

  static CachedValue asExpected(Map<String, String> own) {
    return new CachedValue("hash", own, null, true);
  }

  static CachedValue hash(Map<String, String> fields) {
    return fields.isEmpty() ? ABSENT : new CachedValue("hash", fields, null);
  }

  static CachedValue string(String text) {
    return text == null ? ABSENT : new CachedValue("string", Map.of(), text);
  }

  static CachedValue other(String type) {
    return new CachedValue(type, Map.of(), null);
  }

  public boolean absent() {
    return type.equals("none");
  }
}
