package io.cachesync.redis;

import static java.util.Objects.requireNonNull;

import io.lettuce.core.cluster.SlotHash;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.List;

/**
 * A set of a Redis Cluster's 16384 hash slots, written as {@code CLUSTER NODES} writes them: ranges
 * and single slots, {@code 0-5460, 6000}.
 *
 * @param slots a copy is kept, and given out
 */
public record HashSlots(BitSet slots) {
  /** How many hash slots a Redis Cluster has. */
  public static final int COUNT = 16_384;

  public HashSlots {
    requireNonNull(slots, "slots");
    if (slots.length() > COUNT) {
      throw new IllegalArgumentException("no hash slot " + (slots.length() - 1));
    }
    slots = (BitSet) slots.clone();
  }

  /** The slots in {@code slots}. */
  public static HashSlots of(Collection<Integer> slots) {
    BitSet bits = new BitSet(COUNT);
    slots.forEach(bits::set);
    return new HashSlots(bits);
  }

  /**
   * The slots {@code ranges} names: ranges and single slots separated by commas, spaces or both
   * ({@code 0-5460,6000}, or as {@link #toString()} writes them).
   *
   * @throws IllegalArgumentException when a part is not a slot or a range of slots
   */
  public static HashSlots parse(String ranges) {
    BitSet bits = new BitSet(COUNT);
    for (String range : ranges.trim().split("[,\\s]+")) {
      if (range.isEmpty()) {
        continue;
      }
      try {
        int dash = range.indexOf('-');
        int first = Integer.parseInt(dash < 0 ? range : range.substring(0, dash));
        int last = dash < 0 ? first : Integer.parseInt(range.substring(dash + 1));
        if (first < 0 || last >= COUNT || first > last) {
          throw new NumberFormatException();
        }
        bits.set(first, last + 1);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "'"
                + range
                + "' in '"
                + ranges
                + "' is not a hash slot (0 to 16383) or a range of them");
      }
    }
    return new HashSlots(bits);
  }

  /** Whether {@code key}'s slot is in the set. */
  public boolean containsKey(String key) {
    return slots.get(slotOf(key));
  }

  /** The slot of {@code key}: of its hash tag if it holds one, else of the whole key. */
  public static int slotOf(String key) {
    return SlotHash.getSlot(key);
  }

  /** Every slot of a cluster. */
  public static HashSlots all() {
    BitSet bits = new BitSet(COUNT);
    bits.set(0, COUNT);
    return new HashSlots(bits);
  }

  public static HashSlots none() {
    return new HashSlots(new BitSet(COUNT));
  }

  @Override
  public BitSet slots() {
    return (BitSet) slots.clone();
  }

  public HashSlots plus(HashSlots other) {
    BitSet union = slots();
    union.or(other.slots);
    return new HashSlots(union);
  }

  public HashSlots minus(HashSlots other) {
    BitSet difference = slots();
    difference.andNot(other.slots);
    return new HashSlots(difference);
  }

  public HashSlots intersection(HashSlots other) {
    BitSet both = slots();
    both.and(other.slots);
    return new HashSlots(both);
  }

  public int count() {
    return slots.cardinality();
  }

  public boolean isEmpty() {
    return slots.isEmpty();
  }

  public boolean contains(int slot) {
    return slots.get(slot);
  }

  /** The lowest slot in the set, or -1 when it is empty. */
  public int lowest() {
    return slots.nextSetBit(0);
  }

  /** The highest slot in the set, or -1 when it is empty. */
  public int highest() {
    return slots.length() - 1;
  }

  /** The slots as ranges, e.g. {@code 0-5460, 6000}; empty when there are none. */
  @Override
  public String toString() {
    List<String> ranges = new ArrayList<>();
    for (int first = slots.nextSetBit(0); first >= 0; ) {
      int end = slots.nextClearBit(first);
      ranges.add(end - 1 == first ? Integer.toString(first) : first + "-" + (end - 1));
      first = slots.nextSetBit(end);
    }
    return String.join(", ", ranges);
  }
}
