package io.cachesync.redis;

import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.CommandOutput;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The reply to HGETALL compared, as it is decoded, with the fields the key should hold, in the
 * order the writer stores them (a small hash answers in the order its fields were written): a hash
 * that holds exactly those fields and values, in that order, with any of cachesync's own {@code __}
 * fields between them, is answered as {@link CachedValue#asExpected()} without a string or a map
 * being made of its fields. That is nearly every key of a consistent cache, and decoding a million
 * replies into maps was half of what a verify cost. Any other reply is read into the map of its
 * fields, as {@link CachedValue#hash} holds it, for the comparison by name to say what differs.
 *
 * <p>Lettuce's own outputs decode every field into a string first; a comparison needs the bytes
 * only, so this is written against its output interface rather than taken from the library.
 */
final class ExpectedHashOutput extends CommandOutput<String, String, CachedValue> {
  private static final byte[] OWN = {'_', '_'};

  /** Field names and values, alternately, in UTF-8. */
  private final byte[][] expected;

  /** How many of {@link #expected} the reply matched so far, in order. */
  private int matched;

  /** Elements of the reply received: even for a field's name, odd for its value. */
  private int received;

  /**
   * The name of a {@code __} field whose value comes next, or of any field once {@link #fields}.
   */
  private String pendingName;

  /** cachesync's own fields, decoded: only a few, a version. */
  private Map<String, String> own;

  /** Every field, once the reply stopped matching; null while it matches. */
  private Map<String, String> fields;

  /**
   * @param expected the field names and values, alternately, in the order they are stored, in
   *     UTF-8; the output only reads it
   */
  ExpectedHashOutput(byte[][] expected) {
    super(StringCodec.UTF8, null);
    this.expected = expected;
  }

  /** The fields of {@code values} (name, text, name, text...) as the comparison expects them. */
  static byte[][] utf8(String[] values) {
    byte[][] bytes = new byte[values.length][];
    for (int i = 0; i < values.length; i++) {
      bytes[i] = values[i].getBytes(StandardCharsets.UTF_8);
    }
    return bytes;
  }

  @Override
  public void set(ByteBuffer bytes) {
    boolean name = (received++ & 1) == 0;
    if (fields != null) {
      collect(name, bytes);
      return;
    }
    if (pendingName != null) { // the value of one of cachesync's own fields
      own().put(pendingName, decodeString(bytes));
      pendingName = null;
      return;
    }
    if (name && startsWith(bytes, OWN)) {
      pendingName = decodeString(bytes);
      return;
    }
    if (matched < expected.length && bytes.equals(ByteBuffer.wrap(expected[matched]))) {
      matched++;
      return;
    }
    // From here on the reply is read as it is: what matched so far is the expected prefix.
    fields = new LinkedHashMap<>();
    for (int i = 0; i + 1 < matched; i += 2) {
      fields.put(text(expected[i]), text(expected[i + 1]));
    }
    if (!name) {
      pendingName = text(expected[matched - 1]); // the name matched, this value did not
    }
    collect(name, bytes);
  }

  private void collect(boolean name, ByteBuffer bytes) {
    if (name) {
      pendingName = decodeString(bytes);
    } else {
      fields.put(pendingName, decodeString(bytes));
      pendingName = null;
    }
  }

  @Override
  public CachedValue get() {
    if (received == 0) {
      return CachedValue.ABSENT;
    }
    if (fields == null && matched == expected.length) {
      return CachedValue.asExpected(own == null ? Map.of() : own);
    }
    Map<String, String> all = fields;
    if (all == null) { // fewer fields than expected, each one as expected
      all = new LinkedHashMap<>();
      for (int i = 0; i + 1 < matched; i += 2) {
        all.put(text(expected[i]), text(expected[i + 1]));
      }
    }
    if (own != null) {
      all.putAll(own);
    }
    return CachedValue.hash(all);
  }

  private Map<String, String> own() {
    if (own == null) {
      own = new LinkedHashMap<>(4);
    }
    return own;
  }

  private static boolean startsWith(ByteBuffer bytes, byte[] prefix) {
    if (bytes.remaining() < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (bytes.get(bytes.position() + i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  private static String text(byte[] utf8) {
    return new String(utf8, StandardCharsets.UTF_8);
  }
}
