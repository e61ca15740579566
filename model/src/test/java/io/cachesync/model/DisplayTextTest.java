package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DisplayTextTest {

  @Test
  void of_lineBreaksAndControls_areEscapedOntoOneLine() {
    assertThat(DisplayText.of("user:a\nb\r\tc\u0001\u001b[31m\u007f\u0085"))
        .isEqualTo("user:a\\nb\\r\\tc\\u{1}\\u{1b}[31m\\u{7f}\\u{85}");
  }

  @Test
  void of_separatorsBidiAndInvisibleCharacters_areEscaped() {
    assertThat(DisplayText.of("a\u2028b\u2029c\u202Ed\u2066e\u200Bf\uFEFFg\u200Dh"))
        .isEqualTo("a\\u{2028}b\\u{2029}c\\u{202e}d\\u{2066}e\\u{200b}f\\u{feff}g\\u{200d}h");
  }

  @Test
  void of_otherScriptsCombiningMarksAndEmoji_areShownAsTheyAre() {
    String text = "user:é e\u0301 日本 \u05D0\u05D1 \uD83D\uDE00 \uD834\uDD1E *?[]\\{}";

    assertThat(DisplayText.of(text)).isEqualTo(text);
  }

  @Test
  void of_unpairedSurrogate_isEscaped() {
    assertThat(DisplayText.of("a\uD800b")).isEqualTo("a\\u{d800}b");
  }

  @Test
  void of_longText_isCutAndSaysItsLength() {
    String shown = DisplayText.of("\uD83D\uDE00".repeat(100_000));

    assertThat(shown)
        .startsWith("\uD83D\uDE00".repeat(DisplayText.LIMIT) + "... (")
        .endsWith("(100000 characters)");
    assertThat(DisplayText.of("x".repeat(DisplayText.LIMIT))).isEqualTo("x".repeat(200));
  }
}
