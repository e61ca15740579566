package io.cachesync.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.cachesync.config.YamlNode.Dictionary;
import io.cachesync.config.YamlNode.Field;
import io.cachesync.config.YamlNode.Location;
import io.cachesync.config.YamlNode.Null;
import io.cachesync.config.YamlNode.Scalar;
import io.cachesync.config.YamlNode.ScalarKind;
import io.cachesync.config.YamlNode.Sequence;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/** Reads one YAML file into a {@link YamlNode} tree with Jackson's streaming YAML parser. */
final class YamlDocument {
  private static final YAMLFactory FACTORY = YAMLFactory.builder().build();
  private static final Pattern QUOTED = Pattern.compile("'(?!<[a-z ]+>')[^']*'|\"[^\"]*\"");
  private static final Pattern QUOTED_CHARACTER = Pattern.compile("character \\S*\\(\\d+\\)");

  private final String displayName;
  private final Problems problems;

  private YamlDocument(String displayName, Problems problems) {
    this.displayName = displayName;
    this.problems = problems;
  }

  /**
   * Reads {@code file}; a missing file, a syntax error or a duplicate key is added to {@code
   * problems}.
   *
   * @param displayName how messages name the file
   * @return the root node, or empty when the file could not be read or parsed
   */
  static Optional<YamlNode> read(Path file, String displayName, Problems problems) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      problems.add(
          displayName, null, "", "file not found (looked for " + file.toAbsolutePath() + ")");
      return Optional.empty();
    } catch (IOException e) {
      problems.add(displayName, null, "", "cannot read file: " + e);
      return Optional.empty();
    }
    return new YamlDocument(displayName, problems).parse(text);
  }

  private Optional<YamlNode> parse(String text) {
    try (JsonParser parser = FACTORY.createParser(text)) {
      JsonToken first = parser.nextToken();
      if (first == null) {
        return Optional.of(new Null(Location.START));
      }
      return Optional.of(node(parser, ""));
    } catch (JsonProcessingException e) {
      syntaxError(e);
      return Optional.empty();
    } catch (IOException e) {
      problems.add(displayName, null, "", "cannot read file: " + e);
      return Optional.empty();
    }
  }

  private YamlNode node(JsonParser parser, String path) throws IOException {
    Location location = location(parser.currentTokenLocation());
    JsonToken token = parser.currentToken();
    return switch (token) {
      case START_OBJECT -> dictionary(parser, location, path);
      case START_ARRAY -> sequence(parser, location, path);
      case VALUE_NULL -> new Null(location);
      case VALUE_STRING -> new Scalar(parser.getText(), ScalarKind.STRING, location);
      case VALUE_NUMBER_INT -> new Scalar(parser.getText(), ScalarKind.INTEGER, location);
      case VALUE_NUMBER_FLOAT -> new Scalar(parser.getText(), ScalarKind.FLOAT, location);
      case VALUE_TRUE, VALUE_FALSE -> new Scalar(parser.getText(), ScalarKind.BOOLEAN, location);
      default ->
          throw new IllegalStateException("unexpected YAML token " + token + " at " + location);
    };
  }

  private Dictionary dictionary(JsonParser parser, Location location, String path)
      throws IOException {
    List<Field> fields = new ArrayList<>();
    Map<String, Location> seen = new HashMap<>();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      Location keyLocation = location(parser.currentTokenLocation());
      String fieldPath = path.isEmpty() ? name : path + "." + name;
      parser.nextToken();
      YamlNode value = node(parser, fieldPath);
      Location first = seen.putIfAbsent(name, keyLocation);
      if (first != null) {
        problems.add(
            displayName,
            keyLocation,
            fieldPath,
            "duplicate key '" + name + "' (first given at line " + first.line() + ")");
      } else {
        fields.add(new Field(name, keyLocation, value));
      }
    }
    return new Dictionary(fields, location);
  }

  private Sequence sequence(JsonParser parser, Location location, String path) throws IOException {
    List<YamlNode> items = new ArrayList<>();
    while (parser.nextToken() != JsonToken.END_ARRAY) {
      items.add(node(parser, path + "[" + items.size() + "]"));
    }
    return new Sequence(items, location);
  }

  private static Location location(JsonLocation location) {
    return new Location(location.getLineNr(), location.getColumnNr());
  }

  private void syntaxError(JsonProcessingException e) {
    if (e.getCause() instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
      Mark mark = marked.getProblemMark();
      String context =
          marked.getContext() == null || marked.getContextMark() == null
              ? ""
              : " ("
                  + marked.getContext()
                  + " at line "
                  + (marked.getContextMark().getLine() + 1)
                  + ")";
      problems.add(
          displayName,
          new Location(mark.getLine() + 1, mark.getColumn() + 1),
          "",
          "YAML syntax error: " + withoutInput(marked.getProblem()) + context);
      return;
    }
    JsonLocation at = e.getLocation();
    Location location = at == null ? null : new Location(at.getLineNr(), at.getColumnNr());
    problems.add(
        displayName,
        location,
        "",
        "YAML syntax error: " + withoutInput(firstLine(e.getOriginalMessage())));
  }

  /**
   * A parser's message without the bits of the file it quotes ({@code found unknown escape
   * character q(113)}, {@code Unrecognized token 'abc'}): the error may be inside a password, and
   * the line and column already point at it.
   */
  static String withoutInput(String message) {
    return QUOTED_CHARACTER
        .matcher(QUOTED.matcher(message).replaceAll("'…'"))
        .replaceAll("character");
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable YAML";
    }
    int newline = message.indexOf('\n');
    return (newline < 0 ? message : message.substring(0, newline)).strip();
  }
}
