package io.cachesync.config;

import io.cachesync.config.YamlNode.Dictionary;
import io.cachesync.config.YamlNode.Field;
import io.cachesync.config.YamlNode.Location;
import io.cachesync.config.YamlNode.Null;
import io.cachesync.config.YamlNode.Scalar;
import io.cachesync.config.YamlNode.Sequence;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A YAML mapping read as one configuration section: typed accessors that interpolate the
 * environment, convert the value and, when anything is wrong, record a problem naming the file,
 * line, column and key path instead of throwing. Unknown keys are reported when the section is
 * opened.
 */
final class Section {

  /** What every section of one file shares. */
  record Source(String file, Problems problems, Interpolator interpolator) {}

  private final Source source;
  private final String path;
  private final Dictionary node;
  private final Location anchor;

  private Section(
      Source source, String path, Dictionary node, Location anchor, List<String> knownKeys) {
    this.source = source;
    this.path = path;
    this.node = node;
    this.anchor = anchor;
    for (Field field : node.fields()) {
      if (!knownKeys.contains(field.name())) {
        source
            .problems()
            .add(
                source.file(),
                field.location(),
                pathOf(field.name()),
                "unknown key"
                    + Suggestion.hint(field.name(), knownKeys)
                    + "; known keys here: "
                    + String.join(", ", knownKeys));
      }
    }
  }

  /** Opens {@code node} as a section, or records that it is not a mapping. */
  static Optional<Section> open(Source source, String path, YamlNode node, List<String> knownKeys) {
    return open(source, path, node, node.location(), knownKeys);
  }

  /**
   * @param anchor where problems about the section as a whole (a missing key) are reported: the key
   *     that holds it, or where it starts
   */
  private static Optional<Section> open(
      Source source, String path, YamlNode node, Location anchor, List<String> knownKeys) {
    if (node instanceof Dictionary dictionary) {
      return Optional.of(new Section(source, path, dictionary, anchor, knownKeys));
    }
    source
        .problems()
        .add(
            source.file(),
            node.location(),
            path,
            "expected a mapping, got " + YamlNode.describe(node));
    return Optional.empty();
  }

  String path() {
    return path;
  }

  String pathOf(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  /** Where {@code key} is written, or where this section starts when it is absent. */
  Location locationOf(String key) {
    return node.field(key).map(Field::location).orElse(anchor);
  }

  /** Whether {@code key} holds a scalar (not a section or a list). */
  boolean isScalar(String key) {
    return node.field(key).filter(f -> f.value() instanceof Scalar).isPresent();
  }

  boolean has(String key) {
    return node.field(key).filter(f -> !(f.value() instanceof Null)).isPresent();
  }

  void problem(String key, String message) {
    source
        .problems()
        .add(source.file(), locationOf(key), key.isEmpty() ? path : pathOf(key), message);
  }

  /** Records a warning about {@code key}: the configuration works, but should be changed. */
  void warning(String key, String message) {
    source
        .problems()
        .warn(source.file(), locationOf(key), key.isEmpty() ? path : pathOf(key), message);
  }

  /** Records that a required key is absent. */
  void requireKey(String key, String example) {
    if (!has(key)) {
      source
          .problems()
          .add(
              source.file(),
              anchor,
              path,
              "missing required key '"
                  + key
                  + "'"
                  + (example.isEmpty() ? "" : " (e.g. " + example + ")"));
    }
  }

  /** The text of a scalar value, with the environment interpolated. */
  Optional<String> text(String key) {
    return text(key, false);
  }

  /**
   * The text of a value that may hold a password, with the environment interpolated: no problem
   * recorded about it quotes any part of it.
   */
  Optional<String> secretText(String key) {
    return text(key, true);
  }

  /**
   * A secret value converted by {@code parse}, whose {@link IllegalArgumentException} becomes a
   * problem: {@code parse} redacts the value in its messages (e.g. {@link RedisSettings#redact}).
   */
  <T> Optional<T> secretValue(String key, Function<String, T> parse) {
    return secretText(key).flatMap(text -> convert(key, text, parse));
  }

  private Optional<String> text(String key, boolean secret) {
    Optional<Field> field = node.field(key);
    if (field.isEmpty() || field.get().value() instanceof Null) {
      return Optional.empty();
    }
    return scalarText(field.get().value(), pathOf(key), field.get().location(), secret);
  }

  /** The text of a required scalar value; a missing one is recorded as a problem. */
  Optional<String> requiredText(String key, String example) {
    requireKey(key, example);
    return text(key);
  }

  /**
   * A value converted by {@code parse}, whose {@link IllegalArgumentException} becomes a problem.
   */
  <T> Optional<T> value(String key, Function<String, T> parse) {
    return text(key).flatMap(text -> convert(key, text, parse));
  }

  <T> Optional<T> convert(String key, String text, Function<String, T> parse) {
    try {
      return Optional.of(parse.apply(text));
    } catch (IllegalArgumentException e) {
      problem(key, e.getMessage());
      return Optional.empty();
    }
  }

  Optional<Integer> integer(String key, int min, int max) {
    return value(
        key,
        text -> {
          int value;
          try {
            value = Integer.parseInt(text.strip());
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a whole number");
          }
          if (value < min || value > max) {
            throw new IllegalArgumentException(
                value + " is out of range (" + min + " to " + max + ")");
          }
          return value;
        });
  }

  /** One of a closed set of values, named in the file by {@code name}. */
  <E extends Enum<E>> Optional<E> choice(String key, E[] values, Function<E, String> name) {
    List<String> names = Arrays.stream(values).map(name).collect(Collectors.toList());
    return value(
        key,
        text -> {
          for (E value : values) {
            if (name.apply(value).equals(text)) {
              return value;
            }
          }
          throw new IllegalArgumentException(
              "'"
                  + text
                  + "' is not one of "
                  + String.join(", ", names)
                  + Suggestion.hint(text, names));
        });
  }

  /** A list of scalars; each item that is not a scalar is recorded. */
  Optional<List<String>> textList(String key) {
    return sequence(key)
        .map(
            sequence -> {
              List<String> texts = new ArrayList<>();
              for (int i = 0; i < sequence.items().size(); i++) {
                YamlNode item = sequence.items().get(i);
                scalarText(item, pathOf(key) + "[" + i + "]", item.location(), false)
                    .ifPresent(texts::add);
              }
              return texts;
            });
  }

  /** A list of mappings, each opened as a section with {@code knownKeys}. */
  Optional<List<Section>> sections(String key, List<String> knownKeys) {
    return sequence(key)
        .map(
            sequence -> {
              List<Section> sections = new ArrayList<>();
              for (int i = 0; i < sequence.items().size(); i++) {
                open(source, pathOf(key) + "[" + i + "]", sequence.items().get(i), knownKeys)
                    .ifPresent(sections::add);
              }
              return sections;
            });
  }

  /** A nested mapping; absent when the key is. */
  Optional<Section> section(String key, List<String> knownKeys) {
    Optional<Field> field = node.field(key);
    if (field.isEmpty() || field.get().value() instanceof Null) {
      return Optional.empty();
    }
    return open(source, pathOf(key), field.get().value(), field.get().location(), knownKeys);
  }

  private Optional<Sequence> sequence(String key) {
    Optional<Field> field = node.field(key);
    if (field.isEmpty() || field.get().value() instanceof Null) {
      return Optional.empty();
    }
    if (field.get().value() instanceof Sequence sequence) {
      return Optional.of(sequence);
    }
    problem(key, "expected a list, got " + YamlNode.describe(field.get().value()));
    return Optional.empty();
  }

  private Optional<String> scalarText(
      YamlNode value, String valuePath, Location location, boolean secret) {
    if (!(value instanceof Scalar scalar)) {
      source
          .problems()
          .add(
              source.file(),
              location,
              valuePath,
              "expected a single value, got " + YamlNode.describe(value));
      return Optional.empty();
    }
    try {
      return Optional.of(source.interpolator().interpolate(scalar.text(), secret));
    } catch (IllegalArgumentException e) {
      source.problems().add(source.file(), location, valuePath, e.getMessage());
      return Optional.empty();
    }
  }
}
