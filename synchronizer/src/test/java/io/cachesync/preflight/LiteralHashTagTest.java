package io.cachesync.preflight;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.KeyTemplate;
import io.lettuce.core.cluster.SlotHash;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * A key template's literal hash tag, checked against the slots Redis Cluster's own rule (Lettuce's
 * {@link SlotHash}) gives the keys the template renders.
 */
class LiteralHashTagTest {

  /** The slots of the keys of rows 1 to 200, whose columns all hold the row's number. */
  private static Set<Integer> slots(KeyTemplate template) {
    return IntStream.rangeClosed(1, 200)
        .mapToObj(i -> template.render(column -> column + i))
        .map(SlotHash::getSlot)
        .collect(Collectors.toSet());
  }

  @Test
  void of_tagInTheLiteralPrefix_isEveryKeysTag() {
    KeyTemplate template = KeyTemplate.parse("{{users}}:{id}");

    assertThat(LiteralHashTag.of(template)).contains(new LiteralHashTag("users", true));
    assertThat(slots(template)).containsExactly(SlotHash.getSlot("users"));
  }

  @Test
  void of_tagAfterAPlaceholder_isTheTagOfKeysWhoseValuesHoldNoBrace() {
    KeyTemplate template = KeyTemplate.parse("user:{id}:{{profile}}");

    assertThat(LiteralHashTag.of(template)).contains(new LiteralHashTag("profile", false));
    assertThat(slots(template)).containsExactly(SlotHash.getSlot("profile"));
  }

  @Test
  void of_bracesAroundAPlaceholder_spreadTheKeys() {
    KeyTemplate template = KeyTemplate.parse("user:{{{id}}}");

    assertThat(LiteralHashTag.of(template)).isEmpty();
    assertThat(slots(template)).hasSizeGreaterThan(100);
  }

  @Test
  void of_noBraceOrAnEmptyTag_hashesTheWholeKey() {
    for (String text : new String[] {"user:{id}", "user:{{}}:{id}", "a{{b:{id}:c}}:{x}"}) {
      KeyTemplate template = KeyTemplate.parse(text);

      assertThat(LiteralHashTag.of(template)).as(text).isEmpty();
      assertThat(slots(template)).as(text).hasSizeGreaterThan(100);
    }
  }

  @Test
  void of_onlyTheFirstTagCounts() {
    KeyTemplate template = KeyTemplate.parse("user:{{{id}}}:{{all}}");

    assertThat(LiteralHashTag.of(template)).isEmpty();
    assertThat(slots(template)).hasSizeGreaterThan(100);
  }
}
