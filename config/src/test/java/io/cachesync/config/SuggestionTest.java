package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SuggestionTest {
  private static final List<String> KEYS =
      List.of("table", "key", "format", "mode", "columns", "ttl");

  @Test
  void closest_typo_suggestsTheKey() {
    assertThat(Suggestion.closest("fromat", KEYS)).contains("format");
    assertThat(Suggestion.closest("colums", KEYS)).contains("columns");
    assertThat(Suggestion.closest("Mode", KEYS)).contains("mode");
  }

  @Test
  void closest_unrelatedWord_suggestsNothing() {
    assertThat(Suggestion.closest("expiry", KEYS)).isEmpty();
    assertThat(Suggestion.hint("replicas", KEYS)).isEmpty();
  }
}
