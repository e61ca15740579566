package io.cachesync.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Recognises Debezium's stand-in for an unchanged TOASTed value (unavailable.value.placeholder) in
 * each of the forms Debezium 3.6 gives it, by the column's type (UnchangedToastedPlaceholder and
 * UnchangedToastedReplicationMessageColumn in debezium-connector-postgres):
 *
 * <ul>
 *   <li>a type Debezium does not know (include.unknown.datatypes), and bytea in bytes mode: the
 *       placeholder's UTF-8 bytes. (In base64 mode Debezium gives a bytea NULL, which cannot be
 *       told from a real NULL.)
 *   <li>other scalar columns (text, varchar, xml, numeric, tsvector, ...): the placeholder {@link
 *       #TEXT} as a string; json and jsonb: the same string in a Json field;
 *   <li>text[], varchar[], char[], json[], jsonb[]: a one-element list holding that string;
 *   <li>bytea[]: a one-element list holding the placeholder's UTF-8 bytes;
 *   <li>int[], date[]: a list of the placeholder's bytes, each as an Integer; bigint[]: as Longs;
 *   <li>uuid[]: a one-element list of the name-based UUID of the placeholder's bytes;
 *   <li>hstore (hstore.handling.mode=json): the JSON object {placeholder: placeholder};
 *   <li>every other array, domains over arrays, and bit strings: NULL, which cannot be told from a
 *       real NULL.
 * </ul>
 *
 * Every array, bit string and bytea column goes through {@link UnchangedToastConverter}, which sees
 * Debezium's unchanged marker for each type and writes the placeholder string: the list and bytes
 * forms above are recognised only should such a column reach Debezium's own conversion.
 *
 * <p>Domains take the form of their base type. The placeholder holds a NUL character, which no
 * PostgreSQL text, json, jsonb or hstore value can hold: a real value of those types cannot be
 * taken for it.
 */
final class ToastPlaceholder {
  /** The placeholder cachesync sets as Debezium's unavailable.value.placeholder. */
  static final String TEXT = "__cachesync_unchanged_toast\u0000";

  private static final byte[] BYTES = TEXT.getBytes(StandardCharsets.UTF_8);
  private static final String UUID_TEXT = UUID.nameUUIDFromBytes(BYTES).toString();
  private static final String HSTORE_JSON = hstoreJson();

  private ToastPlaceholder() {}

  private static String hstoreJson() {
    try {
      return new ObjectMapper().writeValueAsString(Map.of(TEXT, TEXT));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Whether a string value (scalar, or in place of an array) is the placeholder. */
  static boolean isText(String value) {
    return value.length() == TEXT.length() && value.equals(TEXT);
  }

  /** Whether a json value (json, jsonb, hstore) is the placeholder. */
  static boolean isJson(String value) {
    return isText(value) || value.equals(HSTORE_JSON);
  }

  /**
   * Whether a bytea value (a byte[] or ByteBuffer, binary.handling.mode=bytes) is the placeholder.
   */
  static boolean isBytes(Object value) {
    if (value instanceof byte[] bytes) {
      return bytes.length == BYTES.length && Arrays.equals(bytes, BYTES);
    }
    return value instanceof ByteBuffer buffer
        && buffer.remaining() == BYTES.length
        && buffer.equals(ByteBuffer.wrap(BYTES));
  }

  /** Whether an array value is the placeholder in one of its list forms. */
  static boolean isList(List<?> values) {
    int size = values.size();
    if (size == 1) {
      Object element = values.get(0);
      if (element instanceof String text) {
        return isText(text) || text.equals(UUID_TEXT);
      }
      return isBytes(element);
    }
    if (size != BYTES.length || !(values.get(0) instanceof Number)) {
      return false;
    }
    for (int i = 0; i < size; i++) {
      if (!(values.get(i) instanceof Number number)
          || !(number instanceof Integer || number instanceof Long)
          || number.longValue() != BYTES[i]) {
        return false;
      }
    }
    return true;
  }
}
