package io.cachesync.redis;

import io.lettuce.core.cluster.SlotHash;

/**
 * For each of a Redis Cluster's 16384 slots, a short hash tag whose key lands in it: a key holding
 * {@code {tag}} hashes to the tag's slot whatever else it holds. The writer names each shard's key
 * with the tag of a slot its master serves.
 */
final class SlotTags {
  private static final String[] TAGS = compute();

  private SlotTags() {}

  /** The shortest base-36 text (the first in counting order) that hashes to {@code slot}. */
  static String tag(int slot) {
    return TAGS[slot];
  }

  private static String[] compute() {
    String[] tags = new String[SlotHash.SLOT_COUNT];
    int found = 0;
    // About 170,000 CRC16s of a few bytes (coupon collecting over 16384 slots): milliseconds.
    for (long i = 0; found < tags.length; i++) {
      String tag = Long.toString(i, 36);
      int slot = SlotHash.getSlot(tag);
      if (tags[slot] == null) {
        tags[slot] = tag;
        found++;
      }
    }
    return tags;
  }
}
