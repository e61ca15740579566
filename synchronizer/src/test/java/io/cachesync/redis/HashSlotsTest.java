package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Sets of hash slots, written as CLUSTER NODES writes them. */
class HashSlotsTest {

  @Test
  void toString_rangesAndSingleSlots() {
    HashSlots slots = HashSlots.of(List.of(0, 1, 2, 7, 16_383, 9, 10));

    assertThat(slots).hasToString("0-2, 7, 9-10, 16383");
    assertThat(slots.count()).isEqualTo(7);
    assertThat(slots.lowest()).isZero();
    assertThat(slots.highest()).isEqualTo(16_383);
    assertThat(HashSlots.none()).hasToString("");
    assertThat(HashSlots.all()).hasToString("0-16383");
  }

  @Test
  void plusMinusIntersection_leaveTheOperandsAsTheyWere() {
    HashSlots low = HashSlots.of(List.of(1, 2, 3));
    HashSlots high = HashSlots.of(List.of(3, 4));

    assertThat(low.plus(high)).hasToString("1-4");
    assertThat(low.minus(high)).hasToString("1-2");
    assertThat(low.intersection(high)).hasToString("3");
    assertThat(HashSlots.all().minus(low.plus(high)).count()).isEqualTo(16_384 - 4);
    assertThat(low).hasToString("1-3");
    assertThat(high).hasToString("3-4");
  }

  @Test
  void slots_isACopy() {
    BitSet bits = new BitSet();
    bits.set(5);
    HashSlots slots = new HashSlots(bits);

    bits.set(6);
    slots.slots().set(7);

    assertThat(slots).hasToString("5");
  }

  @Test
  void new_slotBeyondTheCluster_isRefused() {
    BitSet bits = new BitSet();
    bits.set(16_384);

    assertThatThrownBy(() -> new HashSlots(bits)).hasMessage("no hash slot 16384");
  }

  @Test
  void parse_readsWhatToStringAndTheShardKeysWrite_andRefusesAnythingElse() {
    HashSlots slots = HashSlots.parse("0-2,7, 10-11");
    assertThat(slots.toString()).isEqualTo("0-2, 7, 10-11");
    assertThat(HashSlots.parse(slots.toString())).isEqualTo(slots);
    assertThat(HashSlots.parse("").isEmpty()).isTrue();
    assertThat(HashSlots.parse("16383").contains(16_383)).isTrue();
    for (String wrong : new String[] {"16384", "5-3", "-1", "a-b", "1-"}) {
      assertThatThrownBy(() -> HashSlots.parse(wrong))
          .as(wrong)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("is not a hash slot");
    }
  }

  @Test
  void containsKey_isTheKeysSlot() {
    HashSlots slots = HashSlots.parse(Integer.toString(HashSlots.slotOf("user:1")));
    assertThat(slots.containsKey("user:1")).isTrue();
    assertThat(slots.containsKey("{user:1}:other")).isTrue();
    assertThat(slots.containsKey("user:2")).isFalse();
  }

  @Test
  void slotOf_usesTheHashTag() {
    assertThat(HashSlots.slotOf("{user}:1")).isEqualTo(HashSlots.slotOf("user"));
    assertThat(HashSlots.slotOf("foo")).isEqualTo(12_182);
  }
}
