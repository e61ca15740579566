package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class KeyTemplateTest {

  @Test
  void render_compositeKey_substitutesEveryColumn() {
    KeyTemplate key = KeyTemplate.parse("order:{tenant}:{id}");

    assertThat(key.render(Map.of("tenant", "eu", "id", "42")::get)).isEqualTo("order:eu:42");
    assertThat(key.columns()).containsExactly("tenant", "id");
    assertThat(key.literalPrefix()).isEqualTo("order:");
  }

  @Test
  void render_doubledBraces_areLiteralBraces() {
    KeyTemplate key = KeyTemplate.parse("{{cfg}}:{id}");

    assertThat(key.render(Map.of("id", "7")::get)).isEqualTo("{cfg}:7");
    assertThat(key.literalPrefix()).isEqualTo("{cfg}:");
  }

  @Test
  void render_valueContainingTheFollowingSeparator_isRefused() {
    KeyTemplate key = KeyTemplate.parse("order:{tenant}:{id}");

    assertThatThrownBy(() -> key.render(Map.of("tenant", "eu:west", "id", "1")::get))
        .isInstanceOf(KeyRenderException.class)
        .hasMessage(
            "key 'order:{tenant}:{id}': the value of column tenant contains ':', which would make the key ambiguous");
  }

  @Test
  void render_lastPlaceholder_mayContainAnything() {
    KeyTemplate key = KeyTemplate.parse("user:{email}");

    assertThat(key.render(Map.of("email", "a:b@c")::get)).isEqualTo("user:a:b@c");
  }

  @Test
  void render_missingValue_isRefused() {
    KeyTemplate key = KeyTemplate.parse("user:{id}");

    assertThatThrownBy(() -> key.render(Map.<String, String>of()::get))
        .isInstanceOf(KeyRenderException.class)
        .hasMessage("key 'user:{id}': column id is NULL or missing");
  }

  @Test
  void mayCollideWith_prefixOfTheOther_isTrue() {
    assertThat(KeyTemplate.parse("user:{id}").mayCollideWith(KeyTemplate.parse("user:{id}:x")))
        .isTrue();
    assertThat(KeyTemplate.parse("u{id}").mayCollideWith(KeyTemplate.parse("user:{id}"))).isTrue();
  }

  @Test
  void mayCollideWith_distinctPrefixes_isFalse() {
    assertThat(KeyTemplate.parse("user:{id}").mayCollideWith(KeyTemplate.parse("users:{id}")))
        .isFalse();
  }

  @Test
  void parse_placeholderInsideLiteralBraces_isAPlaceholder() {
    KeyTemplate key = KeyTemplate.parse("x:{{{id}}}");

    assertThat(key.render(Map.of("id", "1")::get)).isEqualTo("x:{1}");
  }

  @Test
  void match_renderedKey_givesBackItsValues() {
    KeyTemplate key = KeyTemplate.parse("order:{tenant}:{id}:x");

    assertThat(key.match("order:eu:42:x")).contains(Map.of("tenant", "eu", "id", "42"));
    assertThat(key.match(key.render(Map.of("tenant", "us", "id", "a:b")::get)))
        .contains(Map.of("tenant", "us", "id", "a:b"));
  }

  @Test
  void match_keyOfAnotherShape_isEmpty() {
    KeyTemplate key = KeyTemplate.parse("order:{tenant}:{id}");

    assertThat(key.match("order:eu")).isEmpty();
    assertThat(key.match("user:1")).isEmpty();
    assertThat(key.match("order::1")).isEmpty();
  }

  @Test
  void render_valueEndingWithTheStartOfTheSeparator_isRefused() {
    KeyTemplate key = KeyTemplate.parse("t:{a}::{b}");

    assertThatThrownBy(() -> key.render(Map.of("a", "x:", "b", "y")::get))
        .isInstanceOf(KeyRenderException.class)
        .hasMessage(
            "key 't:{a}::{b}': the value of column a ends with the start of the following '::', which would"
                + " make the key ambiguous");
    assertThat(key.match("t:x:::y")).contains(Map.of("a", "x", "b", ":y"));
  }

  @Test
  void render_emptyValue_isRefused() {
    KeyTemplate key = KeyTemplate.parse("user:{id}");

    assertThatThrownBy(() -> key.render(Map.of("id", "")::get))
        .isInstanceOf(KeyRenderException.class)
        .hasMessage(
            "key 'user:{id}': column id is empty: a key is never rendered with an empty part"
                + " (one such as 'user:' would be the table's bare key prefix); give the row a"
                + " non-empty value");
    assertThat(key.match("user:")).isEmpty();
  }

  @Test
  void match_keyWithMoreAfterTheTemplate_isEmpty() {
    KeyTemplate key = KeyTemplate.parse("user:{id}:profile");

    assertThat(key.match("user:42:session")).isEmpty();
    assertThat(key.match("user:42:profile:profile")).isEmpty();
    assertThat(key.match("user:42:profile")).contains(Map.of("id", "42"));
  }

  @Test
  void match_lastValueHoldingEarlierSeparators_givesItBack() {
    KeyTemplate key = KeyTemplate.parse("t:{a}:{b}");

    assertThat(key.match("t:1:x:y")).contains(Map.of("a", "1", "b", "x:y"));
  }
}
