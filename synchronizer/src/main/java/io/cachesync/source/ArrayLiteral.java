package io.cachesync.source;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads PostgreSQL's text of an array ({@code {1,NULL,"a \"b\""}}, {@code {{1,2},{3,4}}}, {@code
 * [0:1]={1.5,2}}) into nested lists of the elements' texts, {@code null} for NULL.
 */
final class ArrayLiteral {
  private final String text;
  private int position;

  private ArrayLiteral(String text) {
    this.text = text;
  }

  /**
   * The elements of {@code literal}, a nested list per dimension.
   *
   * @throws IllegalArgumentException if {@code literal} is not an array's text
   */
  static List<Object> parse(String literal) {
    ArrayLiteral parser = new ArrayLiteral(literal);
    if (literal.startsWith("[")) { // explicit bounds: [0:1]={...} or [1:2][1:2]={...}
      int equals = literal.indexOf('=');
      if (equals < 0) {
        throw parser.malformed("bounds without '='");
      }
      parser.position = equals + 1;
    }
    List<Object> elements = parser.array();
    if (parser.position != literal.length()) {
      throw parser.malformed("text after the closing brace");
    }
    return elements;
  }

  private List<Object> array() {
    expect('{');
    List<Object> elements = new ArrayList<>();
    if (peek() == '}') {
      position++;
      return elements;
    }
    while (true) {
      char c = peek();
      if (c == '{') {
        elements.add(array());
      } else if (c == '"') {
        elements.add(quoted());
      } else {
        elements.add(unquoted());
      }
      char next = peek();
      position++;
      if (next == '}') {
        return elements;
      }
      if (next != ',') {
        throw malformed("'" + next + "' where ',' or '}' belongs");
      }
    }
  }

  private String quoted() {
    expect('"');
    StringBuilder element = new StringBuilder();
    while (true) {
      char c = peek();
      position++;
      if (c == '"') {
        return element.toString();
      }
      if (c == '\\') {
        c = peek();
        position++;
      }
      element.append(c);
    }
  }

  private String unquoted() {
    int start = position;
    while (peek() != ',' && peek() != '}') {
      position++;
    }
    String element = text.substring(start, position).strip();
    return element.equalsIgnoreCase("NULL") ? null : element;
  }

  private char peek() {
    if (position >= text.length()) {
      throw malformed("unexpected end");
    }
    return text.charAt(position);
  }

  private void expect(char c) {
    if (peek() != c) {
      throw malformed("'" + peek() + "' where '" + c + "' belongs");
    }
    position++;
  }

  private IllegalArgumentException malformed(String problem) {
    return new IllegalArgumentException(
        "not an array's text at character " + position + ": " + problem);
  }
}
