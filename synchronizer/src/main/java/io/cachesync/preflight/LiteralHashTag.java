package io.cachesync.preflight;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.KeyTemplate;
import io.cachesync.model.KeyTemplate.Literal;
import io.cachesync.model.KeyTemplate.Segment;
import java.util.Optional;

/**
 * A hash tag that a key template writes as literal text, such as {@code {users}} in {@code
 * {{users}}:{id}} (a literal brace is written twice). Redis Cluster hashes a key that holds a tag
 * by the tag alone, so every key of such a table is in one slot, on one master: a table too big
 * for one master, or one that takes most writes, loses what the cluster was for.
 *
 * <p>Redis's rule: the tag is the text between the key's first {@code {} and the first {@code }}
 * after it, if that text is not empty; otherwise the whole key is hashed. The tag is literal when
 * both braces are in one literal part of the template. When they are not (as in {@code
 * user:{{{id}}}}, whose tag is the id), or the first brace is followed at once by the closing one,
 * the keys spread over the slots.
 *
 * @param tag the text between the braces
 * @param everyKey whether it holds for every key: the braces are in the template's literal prefix.
 *     Otherwise a placeholder comes before them, and a key whose value there holds a {@code {} has
 *     its first brace there instead
 */
record LiteralHashTag(String tag, boolean everyKey) {
  LiteralHashTag {
    requireNonNull(tag, "tag");
  }

  /** The literal hash tag of {@code template}'s keys; empty when their tags vary, or none. */
  static Optional<LiteralHashTag> of(KeyTemplate template) {
    boolean afterPlaceholder = false;
    for (Segment segment : template.segments()) {
      if (!(segment instanceof Literal literal)) {
        afterPlaceholder = true;
        continue;
      }
      String text = literal.text();
      int open = text.indexOf('{');
      if (open < 0) {
        continue;
      }
      int close = text.indexOf('}', open + 1);
      if (close < 0 || close == open + 1) {
        // The tag runs into a column's value, or is empty (the whole key is hashed).
        return Optional.empty();
      }
      return Optional.of(new LiteralHashTag(text.substring(open + 1, close), !afterPlaceholder));
    }
    return Optional.empty();
  }
}
