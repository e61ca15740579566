package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * A YAML document as a tree that remembers where each node stands in the file, so that every
 * problem can be reported with its line and column. Jackson's {@code JsonNode} forgets locations
 * once parsed; its streaming parser knows them, and {@link YamlDocument} builds this tree from it.
 */
sealed interface YamlNode {

  Location location();

  /** A 1-based position in a file. */
  record Location(int line, int column) {
    static final Location START = new Location(1, 1);
  }

  /**
   * What a scalar looked like in the file, for messages such as "expected a list, got a number".
   */
  enum ScalarKind {
    STRING("a string"),
    INTEGER("a number"),
    FLOAT("a number"),
    BOOLEAN("true or false");

    final String description;

    ScalarKind(String description) {
      this.description = description;
    }
  }

  record Scalar(String text, ScalarKind kind, Location location) implements YamlNode {
    public Scalar {
      requireNonNull(text, "text");
    }
  }

  record Null(Location location) implements YamlNode {}

  record Sequence(List<YamlNode> items, Location location) implements YamlNode {
    public Sequence {
      items = List.copyOf(items);
    }
  }

  record Field(String name, Location location, YamlNode value) {}

  record Dictionary(List<Field> fields, Location location) implements YamlNode {
    public Dictionary {
      fields = List.copyOf(fields);
    }

    Optional<Field> field(String name) {
      return fields.stream().filter(f -> f.name().equals(name)).findFirst();
    }
  }

  static String describe(YamlNode node) {
    if (node instanceof Scalar scalar) {
      return scalar.kind().description;
    }
    if (node instanceof Sequence) {
      return "a list";
    }
    if (node instanceof Dictionary) {
      return "a mapping";
    }
    return "nothing";
  }
}
