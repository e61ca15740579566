package io.cachesync.redis;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.JsonText;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * Encodes a row's projection as the JSON value of a {@code json} table: {@code {"__v":"<version>",
 * "<column>":<value>,...}}, the version first so that a script reads it without a JSON parser.
 * Unchanged TOAST columns are taken from a cached value of the row ({@link CachedJson}).
 */
final class JsonValueEncoder {
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
          .build();

  /** How every value begins: its version's member, the version's 32 hex digits next. */
  static final String VERSION_MEMBER = "{\"__v\":\"";

  private JsonValueEncoder() {}

  /**
   * A JSON value to merge unchanged TOAST columns from: one written earlier in the same batch, or
   * one Redis holds.
   *
   * @param version the version stored with it; the merged write applies only if it still is
   */
  record CachedJson(String version, String text) {
    /** The cached value {@code text}, or empty when it is not one with a version. */
    static Optional<CachedJson> parse(String text) {
      if (text == null) {
        return Optional.empty();
      }
      try {
        JsonNode version = JSON.readTree(text).get("__v");
        return version == null
            ? Optional.empty()
            : Optional.of(new CachedJson(version.asText(), text));
      } catch (IOException e) {
        return Optional.empty();
      }
    }

    /**
     * The member's JSON text exactly as cached, or null when it has none. Copied, not
     * re-serialised: a parsed number would come back in another form ({@code 1.0} as {@code 1},
     * {@code 2.50} as {@code 2.5}) and the merged value would no longer be the row's.
     */
    String member(String column) {
      try (JsonParser parser = JSON.getFactory().createParser(text)) {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
          return null;
        }
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String name = parser.currentName();
          parser.nextToken();
          int start = (int) parser.currentTokenLocation().getCharOffset();
          parser.skipChildren();
          parser.finishToken(); // a string's text is read lazily; its end is known only then
          int end = (int) parser.currentLocation().getCharOffset();
          if (name.equals(column)) {
            return text.substring(start, end);
          }
        }
        return null;
      } catch (IOException e) {
        return null;
      }
    }
  }

  /**
   * The value of {@code write}, its unchanged columns taken from {@code source}.
   *
   * @param source the cached value to merge from; null when there is none
   * @return empty when an unchanged column has no cached value to keep (the key must be evicted: a
   *     cache miss is safe, a value without the column is not)
   */
  static Optional<String> encode(Write write, CachedJson source) {
    StringBuilder json = new StringBuilder(64 + 16 * write.values().size());
    json.append(VERSION_MEMBER).append(write.version().text()).append('"');
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      String text;
      if (entry.getValue() instanceof ColumnValue.Unchanged) {
        String kept = source == null ? null : source.member(entry.getKey());
        if (kept == null) {
          return Optional.empty();
        }
        text = kept;
      } else {
        text = entry.getValue().jsonText();
      }
      json.append(',');
      JsonText.appendQuoted(json, entry.getKey());
      json.append(':').append(text);
    }
    return Optional.of(json.append('}').toString());
  }
}
