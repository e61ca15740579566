package io.cachesync.redis;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;

/**
 * The arguments of one call of write_hash.lua, gathered row by row: {@code KEYS} in pairs (the key
 * written, and the key its unchanged columns come from), and one {@code ARGV} holding every row's
 * values packed with MessagePack, which Redis unpacks in C (cmsgpack). Sent as a dozen small
 * arguments per row instead, their encoding was most of Lettuce's time and a good part of Redis's.
 */
public final class HashRowCall {
  /** Rows per call at most: enough to spread the cost of starting the script. */
  public static final int MAX_ROWS = 64;

  /**
   * Values unpacked per call at most: Redis's Lua stack takes about 8,000, and one row has at most
   * 4 + 2 x 1,600 (PostgreSQL's column limit).
   */
  static final int MAX_VALUES = 4_000;

  private final List<String> keys = new ArrayList<>();
  private final MessageBufferPacker packer = MessagePack.newDefaultBufferPacker();
  private int values;

  public int rows() {
    return keys.size() / 2;
  }

  /**
   * Whether a row of {@code unchanged} columns and {@code fieldValues} field names and values, of
   * at most {@code bytes} packed, still fits in this call without it passing {@code maxBytes}.
   */
  public boolean fits(int unchanged, int fieldValues, long bytes, long maxBytes) {
    return rows() == 0
        || (rows() < MAX_ROWS
            && values + 4 + unchanged + fieldValues <= MAX_VALUES
            && packer.getTotalWrittenBytes() + bytes <= maxBytes);
  }

  /**
   * Adds a row.
   *
   * @param version the version, compared as text by the script
   * @param ttl seconds, {@code "0"} for none
   * @param unchanged the columns whose cached fields the script keeps (unchanged TOAST values)
   * @param fields field names and values, alternating
   */
  public void add(
      String key,
      String mergeFrom,
      String version,
      String ttl,
      List<String> unchanged,
      List<String> fields) {
    keys.add(key);
    keys.add(mergeFrom);
    try {
      // Strings, all of them: the script passes them to Redis commands as they are.
      packer.packString(version);
      packer.packString(ttl);
      packer.packString(Integer.toString(unchanged.size()));
      packer.packString(Integer.toString(fields.size() / 2));
      for (String column : unchanged) {
        packer.packString(column);
      }
      for (String field : fields) {
        packer.packString(field);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("packing a row in memory failed", e);
    }
    values += 4 + unchanged.size() + fields.size();
  }

  /** The call's {@code KEYS}. */
  public String[] keys() {
    return keys.toArray(String[]::new);
  }

  /** The call's one {@code ARGV}: the rows' values. */
  public byte[] packedValues() {
    return packer.toByteArray();
  }

  public void clear() {
    keys.clear();
    packer.clear();
    values = 0;
  }
}
