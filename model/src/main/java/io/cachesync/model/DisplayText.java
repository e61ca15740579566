package io.cachesync.model;

/**
 * A key (or other text from the data) as it is shown in a line meant for people: {@code verify}'s
 * report, a log line. A key holds whatever its row's values hold, and printed as is it could end
 * the line and forge the next one ({@code \n}, U+2028), rewrite the terminal (an escape sequence),
 * reorder what follows it (U+202E and the other bidirectional controls) or hide ({@code U+200B},
 * {@code U+FEFF}). So control characters ({@code Cc}), format characters ({@code Cf}), line and
 * paragraph separators and unpaired surrogates are written as {@code \n}, {@code \r}, {@code \t} or
 * <code>&#92;u{XXXX}</code>, and text longer than {@value #LIMIT} characters is cut, with its
 * length said. Everything else, other scripts, combining marks and emoji among them, is shown as
 * is. The exact text is in the {@code --json} output.
 */
public final class DisplayText {
  /** How many characters (code points) are shown. */
  public static final int LIMIT = 200;

  private DisplayText() {}

  /** {@code text} made safe to print on one line. */
  public static String of(String text) {
    if (text == null) {
      return "null";
    }
    StringBuilder shown = new StringBuilder(Math.min(text.length(), LIMIT) + 16);
    int count = 0;
    for (int i = 0; i < text.length(); ) {
      int c = text.codePointAt(i);
      i += Character.charCount(c);
      if (count++ == LIMIT) {
        return shown
            .append("... (")
            .append(text.codePointCount(0, text.length()))
            .append(" characters)")
            .toString();
      }
      switch (c) {
        case '\n' -> shown.append("\\n");
        case '\r' -> shown.append("\\r");
        case '\t' -> shown.append("\\t");
        default -> {
          if (hidden(c)) {
            shown.append("\\u{").append(Integer.toHexString(c)).append('}');
          } else {
            shown.appendCodePoint(c);
          }
        }
      }
    }
    return shown.toString();
  }

  private static boolean hidden(int c) {
    return switch (Character.getType(c)) {
      case Character.CONTROL,
          Character.FORMAT,
          Character.LINE_SEPARATOR,
          Character.PARAGRAPH_SEPARATOR,
          Character.SURROGATE ->
          true;
      default -> false;
    };
  }
}
