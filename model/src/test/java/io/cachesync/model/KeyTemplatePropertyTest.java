package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Render and match are exact inverses: seeded random values (separators, empty values, unicode)
 * that render read back as themselves, and no key is matched that render would not produce. The
 * seed is in each assertion's description so that a failure can be replayed.
 */
class KeyTemplatePropertyTest {
  private static final long SEED = Long.getLong("keys.seed", System.nanoTime());
  private static final int TRIES = 5_000;

  /** Pieces values and keys are built from: every template's separators, and unicode. */
  private static final List<String> PIECES =
      List.of(
          ":",
          "::",
          "/",
          "|",
          "-",
          "a",
          "b",
          "1",
          "42",
          "{",
          "}",
          "é",
          "日本",
          "\uD83D\uDE00",
          " ",
          "user",
          "profile",
          "t",
          "x",
          ".",
          "\u00A0");

  private static final String[] TEMPLATES = {
    "t:{a}::{b}",
    "t:{a}:{b}",
    "user:{id}:profile",
    "order:{tenant}:{id}",
    "x{{{a}}}:{b}|",
    "t:{a}::{a}",
    "p/{a}-{b}-{c}",
    "aa{a}a{b}aa",
  };

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7})
  void render_thenMatch_givesBackTheValues(int template) {
    KeyTemplate key = KeyTemplate.parse(TEMPLATES[template]);
    Random random = new Random(SEED + template);
    int rendered = 0;
    for (int i = 0; i < TRIES; i++) {
      Map<String, String> values = new LinkedHashMap<>();
      for (String column : key.columns()) {
        values.put(column, text(random, 4));
      }
      String rendering;
      try {
        rendering = key.render(values::get);
      } catch (KeyRenderException refused) {
        continue;
      }
      rendered++;
      assertThat(key.match(rendering))
          .as("seed %d, template %s, values %s", SEED, key, values)
          .contains(values);
    }
    assertThat(rendered)
        .as("seed %d: enough values render to prove anything", SEED)
        .isGreaterThan(TRIES / 20);
  }

  /**
   * Candidates are random text under the prefix, and keys render produced from plain values, either
   * as they are or with a random piece put in or a random stretch taken out: a random text alone
   * seldom matches a template that repeats a placeholder ({@code t:{a}::{a}}), a rendered key
   * matches by construction, so the check below cannot pass by matching nothing.
   */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7})
  void match_anyKey_onlyWhatRenderProduces(int template) {
    KeyTemplate key = KeyTemplate.parse(TEMPLATES[template]);
    Random random = new Random(SEED * 31 + template);
    int matched = 0;
    for (int i = 0; i < TRIES; i++) {
      String candidate =
          switch (i % 4) {
            case 0 -> key.literalPrefix() + text(random, 8, literals(key));
            case 1 -> rendered(key, random);
            case 2 -> insertPiece(rendered(key, random), random, literals(key));
            default -> removeStretch(rendered(key, random), random);
          };
      Optional<Map<String, String>> values = key.match(candidate);
      if (values.isPresent()) {
        matched++;
        assertThat(key.render(values.get()::get))
            .as("seed %d, template %s, key %s", SEED, key, candidate)
            .isEqualTo(candidate);
      }
    }
    assertThat(matched)
        .as("seed %d: at least the unchanged rendered keys match", SEED)
        .isGreaterThanOrEqualTo(TRIES / 4);
  }

  /** Pieces no template refuses in a value: a value of one to three of them always renders. */
  private static final List<String> PLAIN = List.of("b", "c", "1", "42", "é", "日本", "user");

  private static String rendered(KeyTemplate key, Random random) {
    Map<String, String> values = new LinkedHashMap<>();
    for (String column : key.columns()) {
      StringBuilder value = new StringBuilder(PLAIN.get(random.nextInt(PLAIN.size())));
      for (int pieces = random.nextInt(3); pieces > 0; pieces--) {
        value.append(PLAIN.get(random.nextInt(PLAIN.size())));
      }
      values.put(column, value.toString());
    }
    return key.render(values::get);
  }

  private static String insertPiece(String key, Random random, List<String> pieces) {
    int at = random.nextInt(key.length() + 1);
    return key.substring(0, at) + pieces.get(random.nextInt(pieces.size())) + key.substring(at);
  }

  private static String removeStretch(String key, Random random) {
    int from = random.nextInt(key.length());
    int to = from + 1 + random.nextInt(Math.min(3, key.length() - from));
    return key.substring(0, from) + key.substring(to);
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7})
  void render_refusedValues_theirNaiveKeyIsNotReadBackAsThem(int template) {
    KeyTemplate key = KeyTemplate.parse(TEMPLATES[template]);
    Random random = new Random(SEED * 17 + template);
    for (int i = 0; i < TRIES; i++) {
      Map<String, String> values = new LinkedHashMap<>();
      for (String column : key.columns()) {
        values.put(column, text(random, 4));
      }
      try {
        key.render(values::get);
      } catch (KeyRenderException refused) {
        String naive = naive(key, values);
        assertThat(key.match(naive))
            .as("seed %d, template %s, values %s", SEED, key, values)
            .isNotEqualTo(Optional.of(values));
      }
    }
  }

  /** The key the values would have without the rule: plain substitution. */
  private static String naive(KeyTemplate key, Map<String, String> values) {
    StringBuilder text = new StringBuilder();
    for (KeyTemplate.Segment segment : key.segments()) {
      text.append(
          segment instanceof KeyTemplate.Literal literal
              ? literal.text()
              : values.get(((KeyTemplate.Placeholder) segment).column()));
    }
    return text.toString();
  }

  /** Up to {@code pieces} random pieces: empty one time in {@code pieces + 1}. */
  private static String text(Random random, int pieces) {
    return text(random, pieces, PIECES);
  }

  private static String text(Random random, int pieces, List<String> from) {
    StringBuilder text = new StringBuilder();
    int count = random.nextInt(pieces + 1);
    for (int i = 0; i < count; i++) {
      text.append(from.get(random.nextInt(from.size())));
    }
    return text.toString();
  }

  /** The pieces, with the template's literal text as often as all the others together. */
  private static List<String> literals(KeyTemplate key) {
    List<String> pieces = new java.util.ArrayList<>(PIECES);
    List<String> literals =
        key.segments().stream()
            .filter(KeyTemplate.Literal.class::isInstance)
            .map(segment -> ((KeyTemplate.Literal) segment).text())
            .toList();
    while (pieces.size() < 2 * PIECES.size()) {
      pieces.addAll(literals);
    }
    return pieces;
  }
}
