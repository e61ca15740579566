package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The glob pattern of a template's keys ({@link KeyTemplate#prefixGlob()}): its escaping, checked
 * against a transcription of Redis's own matcher ({@code stringmatchlen} in Redis's util.c), with
 * seeded random prefixes and keys made of glob characters. The seed is in each assertion's
 * description so that a failure can be replayed ({@code -Dkeys.seed=...}).
 */
class KeyGlobTest {
  private static final long SEED = Long.getLong("keys.seed", System.nanoTime());

  @Test
  void prefixGlob_escapesEveryGlobCharacterOfThePrefix() {
    assertThat(KeyTemplate.parse("user:{id}").prefixGlob()).isEqualTo("user:*");
    assertThat(KeyTemplate.parse("a[*]:{id}").prefixGlob()).isEqualTo("a\\[\\*\\]:*");
    assertThat(KeyTemplate.parse("u?\\x:{id}:{b}").prefixGlob()).isEqualTo("u\\?\\\\x:*");
    assertThat(KeyTemplate.parse("{{x}}^-!:{id}").prefixGlob()).isEqualTo("{x}^-!:*");
  }

  @Test
  void prefixGlob_endsWithItsOnlyStar() {
    KeyTemplate template = KeyTemplate.parse("order:{tenant}:{id}:x*");

    assertThat(template.prefixGlob()).isEqualTo("order:*");
  }

  @Test
  void escapeGlob_matchesExactlyTheText() {
    for (String text : List.of("*", "?", "[", "]", "\\", "[a-z]", "\\*", "a[^b]c", "[", "x\\")) {
      String pattern = KeyTemplate.escapeGlob(text);

      assertThat(redisGlob(pattern, text)).as("%s matches %s", pattern, text).isTrue();
      assertThat(redisGlob(pattern, text + "x")).as("%s matches no more", pattern).isFalse();
    }
  }

  @Test
  void prefixGlob_matchesAKeyExactlyWhenTheKeyStartsWithThePrefix() {
    Random random = new Random(SEED);
    String[] pieces = {
      "*", "?", "[", "]", "\\", "^", "-", "a", "b", ":", "{{", "}}", "é", "\uD83D\uDE00", "\n"
    };
    for (int i = 0; i < 20_000; i++) {
      StringBuilder prefix = new StringBuilder();
      for (int n = 1 + random.nextInt(5); n > 0; n--) {
        prefix.append(pieces[random.nextInt(pieces.length)]);
      }
      KeyTemplate template = KeyTemplate.parse(prefix + "{id}");
      String literal = template.literalPrefix();
      StringBuilder key = new StringBuilder(random.nextBoolean() ? literal : "");
      for (int n = random.nextInt(4); n > 0; n--) {
        key.append(pieces[random.nextInt(pieces.length)].replace("{{", "{").replace("}}", "}"));
      }

      assertThat(redisGlob(template.prefixGlob(), key.toString()))
          .as("seed=%d: %s against '%s'", SEED, template.prefixGlob(), key)
          .isEqualTo(key.toString().startsWith(literal));
    }
  }

  /** Redis's glob matching ({@code stringmatchlen}, case-sensitive), over UTF-8 bytes as Redis. */
  static boolean redisGlob(String pattern, String string) {
    return match(
        pattern.getBytes(StandardCharsets.UTF_8), 0, string.getBytes(StandardCharsets.UTF_8), 0);
  }

  private static boolean match(byte[] p, int pi, byte[] s, int si) {
    while (pi < p.length && si < s.length) {
      switch (p[pi]) {
        case '*' -> {
          while (pi + 1 < p.length && p[pi + 1] == '*') {
            pi++;
          }
          if (pi + 1 == p.length) {
            return true;
          }
          for (; si < s.length; si++) {
            if (match(p, pi + 1, s, si)) {
              return true;
            }
          }
          return false;
        }
        case '?' -> si++;
        case '[' -> {
          pi++;
          boolean not = pi < p.length && p[pi] == '^';
          if (not) {
            pi++;
          }
          boolean matched = false;
          while (true) {
            if (pi < p.length && p[pi] == '\\' && p.length - pi >= 2) {
              pi++;
              matched |= p[pi] == s[si];
            } else if (pi < p.length && p[pi] == ']') {
              break;
            } else if (pi >= p.length) {
              pi--;
              break;
            } else if (p.length - pi >= 3 && p[pi + 1] == '-') {
              int start = p[pi] & 0xff;
              int end = p[pi + 2] & 0xff;
              int c = s[si] & 0xff;
              matched |= start <= end ? c >= start && c <= end : c >= end && c <= start;
              pi += 2;
            } else {
              matched |= p[pi] == s[si];
            }
            pi++;
          }
          if (not == matched) {
            return false;
          }
          si++;
        }
        case '\\' -> {
          if (p.length - pi >= 2) {
            pi++;
          }
          if (p[pi] != s[si]) {
            return false;
          }
          si++;
        }
        default -> {
          if (p[pi] != s[si]) {
            return false;
          }
          si++;
        }
      }
      pi++;
      if (si == s.length) {
        while (pi < p.length && p[pi] == '*') {
          pi++;
        }
        break;
      }
    }
    return pi == p.length && si == s.length;
  }
}
