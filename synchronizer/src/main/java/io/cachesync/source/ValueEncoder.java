package io.cachesync.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.model.ColumnValue;
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.SignStyle;
import java.time.format.TextStyle;
import java.time.temporal.ChronoField;
import java.util.Base64;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.postgresql.PGStatement;
import org.postgresql.geometric.PGbox;
import org.postgresql.geometric.PGcircle;
import org.postgresql.geometric.PGline;
import org.postgresql.geometric.PGlseg;
import org.postgresql.geometric.PGpath;
import org.postgresql.geometric.PGpoint;
import org.postgresql.geometric.PGpolygon;
import org.postgresql.util.PGInterval;
import org.postgresql.util.PGobject;

/**
 * The cached form of each PostgreSQL type (README, value encoding), one method per type, shared by
 * every path that produces a cached value: the stream ({@link RecordDecoder}, from Debezium's
 * records, and {@link UnchangedToastConverter}, for arrays, bit strings, bytea, geometric and
 * vector types) and the JDBC readers (verify and the orphan sweep, {@code job.JdbcRowEncoder}).
 *
 * <p>The design: each path turns its input into the plain Java value of the type (an {@link
 * Instant}, a {@link LocalDateTime}, a {@code byte[]}, a {@link java.sql.Array}...) and calls the
 * type's method here, so the text is written in one place. Where Debezium hands over text it has
 * already formatted (interval as ISO-8601, timetz, numeric), the method here writes that same text
 * from the JDBC value, following Debezium 3.6's formatter (named on each method); the test that
 * compares both paths over every type (VerifyEncodingIT) holds them together.
 */
public final class ValueEncoder {
  private static final DateTimeFormatter MICROS_UTC =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'");
  private static final DateTimeFormatter MICROS_LOCAL =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS");
  private static final DateTimeFormatter MICROS_TIME =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** PostgreSQL's text of a timetz: {@code 13:14:15.5+02}, {@code 13:14:15+05:30}. */
  private static final DateTimeFormatter TIMETZ =
      new java.time.format.DateTimeFormatterBuilder()
          .append(DateTimeFormatter.ISO_LOCAL_TIME)
          .appendPattern("[XXX][X]")
          .toFormatter();

  /** The year of era, month and day of PostgreSQL's date text (DateStyle ISO). */
  private static final DateTimeFormatter YEAR_OF_ERA_MONTH_DAY =
      new DateTimeFormatterBuilder()
          .appendValue(ChronoField.YEAR_OF_ERA, 4, 9, SignStyle.NOT_NEGATIVE)
          .appendLiteral('-')
          .appendValue(ChronoField.MONTH_OF_YEAR, 2)
          .appendLiteral('-')
          .appendValue(ChronoField.DAY_OF_MONTH, 2)
          .toFormatter(Locale.ROOT);

  /** PostgreSQL's text of a date (DateStyle ISO), the era after it for BC dates. */
  private static final DateTimeFormatter POSTGRES_DATE = withOptionalEra(YEAR_OF_ERA_MONTH_DAY);

  /** PostgreSQL's text of a timestamp (DateStyle ISO), the era after it for BC timestamps. */
  private static final DateTimeFormatter POSTGRES_TIMESTAMP =
      withOptionalEra(
          new DateTimeFormatterBuilder()
              .append(YEAR_OF_ERA_MONTH_DAY)
              .appendLiteral(' ')
              .append(DateTimeFormatter.ISO_LOCAL_TIME)
              .toFormatter(Locale.ROOT));

  /**
   * PostgreSQL's text of a timestamptz (DateStyle ISO) in any session time zone: the offset as
   * {@code +00}, {@code +05:30} or, for a zone's local mean time, {@code +00:09:21}; the era after
   * it for BC timestamps. "Z" is only the parser's text for a zero offset, which PostgreSQL never
   * writes: with "+00" there, the parser would take the "+00" of "+00:09:21" for a whole offset.
   */
  private static final DateTimeFormatter POSTGRES_TIMESTAMPTZ =
      withOptionalEra(
          new DateTimeFormatterBuilder()
              .append(YEAR_OF_ERA_MONTH_DAY)
              .appendLiteral(' ')
              .append(DateTimeFormatter.ISO_LOCAL_TIME)
              .appendOffset("+HH:mm:ss", "Z")
              .toFormatter(Locale.ROOT));

  private static DateTimeFormatter withOptionalEra(DateTimeFormatter formatter) {
    return new DateTimeFormatterBuilder()
        .append(formatter)
        .optionalStart()
        .appendLiteral(' ')
        .appendText(ChronoField.ERA, TextStyle.SHORT)
        .optionalEnd()
        .toFormatter(Locale.ROOT);
  }

  private static final long MICROS_PER_DAY = 86_400_000_000L;

  /** PostgreSQL's 24:00:00, the end of a day, in the form of {@link #MICROS_TIME}. */
  private static final String END_OF_DAY = "24:00:00.000000";

  /** PostgreSQL's 'infinity' timestamp as Debezium and PgJDBC give it, in microseconds / millis. */
  static final long INFINITY = PGStatement.DATE_POSITIVE_INFINITY;

  static final long MINUS_INFINITY = PGStatement.DATE_NEGATIVE_INFINITY;

  private ValueEncoder() {}

  /** timestamp (without time zone): ISO-8601 local with microseconds, or (-)infinity. */
  public static ColumnValue localTimestamp(LocalDateTime value) {
    return ColumnValue.text(MICROS_LOCAL.format(value));
  }

  /** timestamp from Debezium's microseconds since the epoch (MicroTimestamp). */
  public static ColumnValue localTimestampMicros(long micros) {
    if (micros == INFINITY) {
      return ColumnValue.text("infinity");
    }
    if (micros == MINUS_INFINITY) {
      return ColumnValue.text("-infinity");
    }
    return localTimestamp(LocalDateTime.ofInstant(micros(micros), ZoneOffset.UTC));
  }

  /**
   * timestamp from PostgreSQL's text of it (ISO DateStyle: {@code 2026-03-29 02:30:00.5}, {@code
   * 0044-03-15 00:00:00 BC}, {@code infinity}), read without any time zone: a java.sql.Timestamp
   * would move a local time that does not exist in the JVM's zone (a DST gap) by an hour.
   */
  public static ColumnValue localTimestamp(String text) {
    if (text.equals("infinity") || text.equals("-infinity")) {
      return ColumnValue.text(text);
    }
    return localTimestamp(LocalDateTime.parse(text, POSTGRES_TIMESTAMP));
  }

  /** timestamptz: ISO-8601 in UTC with microseconds, or (-)infinity. */
  public static ColumnValue utcTimestamp(Instant value) {
    return ColumnValue.text(MICROS_UTC.format(value.atOffset(ZoneOffset.UTC)));
  }

  /**
   * timestamptz from PostgreSQL's text of it, in any session time zone and any era ({@code
   * 2026-12-06 05:57:12.5+00}, {@code 0044-03-15 12:00:00+00 BC}, {@code 1500-06-01
   * 00:09:21+00:09:21}, {@code infinity}): read as text, not through PgJDBC's {@link Timestamp},
   * which counts days before 1582-10-15 in the Julian calendar and so moves them from the proleptic
   * Gregorian dates the stream writes.
   */
  public static ColumnValue utcTimestamp(String text) {
    ColumnValue fast = utcTimestampText(text);
    if (fast != null) {
      return fast;
    }
    if (text.equals("infinity") || text.equals("-infinity")) {
      return ColumnValue.text(text);
    }
    return utcTimestamp(OffsetDateTime.parse(text, POSTGRES_TIMESTAMPTZ).toInstant());
  }

  /**
   * timestamptz from PostgreSQL's text of it in a session whose time zone is UTC ({@code 2026-12-06
   * 05:57:12.5+00}), or null when the text has another form (another offset, a year past 9999, BC,
   * infinity): then {@link #utcTimestamp(String)} parses it. Parsing with java.time and formatting
   * again was half the cost of reading a row of narrow columns.
   */
  static ColumnValue utcTimestampText(String text) {
    int length = text.length();
    if (length < 22
        || length > 29
        || text.charAt(length - 3) != '+'
        || text.charAt(length - 2) != '0'
        || text.charAt(length - 1) != '0'
        || text.charAt(4) != '-'
        || text.charAt(7) != '-'
        || text.charAt(10) != ' '
        || text.charAt(13) != ':'
        || text.charAt(16) != ':') {
      return null;
    }
    int fractionEnd = length - 3;
    if (fractionEnd != 19 && (text.charAt(19) != '.' || fractionEnd == 20)) {
      return null;
    }
    char[] out = new char[27];
    for (int i = 0; i < 19; i++) {
      char c = text.charAt(i);
      boolean digit = c >= '0' && c <= '9';
      if (i == 4 || i == 7 || i == 13 || i == 16) {
        out[i] = c;
      } else if (i == 10) {
        out[i] = 'T';
      } else if (!digit) {
        return null;
      } else {
        out[i] = c;
      }
    }
    out[19] = '.';
    for (int i = 0; i < 6; i++) {
      int at = 20 + i;
      char c = at < fractionEnd ? text.charAt(at) : '0';
      if (c < '0' || c > '9') {
        return null;
      }
      out[20 + i] = c;
    }
    out[26] = 'Z';
    return ColumnValue.text(new String(out));
  }

  /** time: {@code HH:mm:ss.SSSSSS}. */
  public static ColumnValue time(java.time.LocalTime value) {
    return ColumnValue.text(MICROS_TIME.format(value));
  }

  /**
   * time from microseconds of the day, as Debezium gives it; PostgreSQL's {@code 24:00:00}, which
   * no LocalTime holds, is written {@code 24:00:00.000000}.
   */
  public static ColumnValue timeMicros(long micros) {
    if (micros == MICROS_PER_DAY) {
      return ColumnValue.text(END_OF_DAY);
    }
    return time(java.time.LocalTime.ofNanoOfDay(micros * 1_000L));
  }

  /** time from PostgreSQL's text of it ({@code 13:14:15.5}, {@code 24:00:00}). */
  public static ColumnValue time(String text) {
    if (text.startsWith("24:")) {
      return ColumnValue.text(END_OF_DAY);
    }
    return time(java.time.LocalTime.parse(text));
  }

  /** timetz: in UTC, as Debezium's ZonedTime writes it ({@code ISO_OFFSET_TIME}). */
  public static ColumnValue zonedTime(OffsetTime value) {
    return ColumnValue.text(
        DateTimeFormatter.ISO_OFFSET_TIME.format(value.withOffsetSameInstant(ZoneOffset.UTC)));
  }

  /** date: ISO-8601. */
  public static ColumnValue date(LocalDate value) {
    return ColumnValue.text(value.toString());
  }

  /** date from PostgreSQL's text of it ({@code 2026-11-25}, {@code 0044-03-15 BC}, infinity). */
  public static ColumnValue date(String text) {
    if (text.equals("infinity") || text.equals("-infinity")) {
      return ColumnValue.text(text);
    }
    return date(LocalDate.parse(text, POSTGRES_DATE));
  }

  /** real: its shortest float text, 0.1, not the 0.10000000149011612 of its double. */
  public static ColumnValue real(float value) {
    if (Float.isNaN(value) || Float.isInfinite(value)) {
      return ColumnValue.text(Float.toString(value));
    }
    return new ColumnValue.Number(Float.toString(value));
  }

  /** double precision. */
  public static ColumnValue doublePrecision(double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return ColumnValue.text(Double.toString(value));
    }
    return new ColumnValue.Number(Double.toString(value));
  }

  /**
   * PostgreSQL's text of a value its driver gives as an object: a geometric value printed from its
   * numbers as PostgreSQL prints them ({@code (1,2.5)}, where PgJDBC's {@code PGpoint} prints
   * Java's {@code (1.0,2.5)}; from the doubles themselves, since before JDK 19 Java's text of a
   * double does not always read back as the same double), any other {@code PGobject} by its text,
   * an array of a vector type ({@code int2vector}, {@code oidvector}) by the text it was read from.
   */
  public static String text(Object value) {
    if (value instanceof PGpoint point) {
      return point(point);
    }
    if (value instanceof PGbox box) {
      return point(box.point[0]) + "," + point(box.point[1]);
    }
    if (value instanceof PGlseg segment) {
      return "[" + point(segment.point[0]) + "," + point(segment.point[1]) + "]";
    }
    if (value instanceof PGline line) {
      return "{"
          + PostgresFloat8.text(line.a)
          + ","
          + PostgresFloat8.text(line.b)
          + ","
          + PostgresFloat8.text(line.c)
          + "}";
    }
    if (value instanceof PGpath path) {
      return (path.open ? "[" : "(") + points(path.points) + (path.open ? "]" : ")");
    }
    if (value instanceof PGpolygon polygon) {
      return "(" + points(polygon.points) + ")";
    }
    if (value instanceof PGcircle circle) {
      return "<" + point(circle.center) + "," + PostgresFloat8.text(circle.radius) + ">";
    }
    if (value instanceof PGobject object) {
      return object.getValue();
    }
    return value.toString();
  }

  private static String point(PGpoint point) {
    return "(" + PostgresFloat8.text(point.x) + "," + PostgresFloat8.text(point.y) + ")";
  }

  private static String points(PGpoint[] points) {
    StringBuilder text = new StringBuilder(points.length * 8);
    for (int i = 0; i < points.length; i++) {
      text.append(i == 0 ? "" : ",").append(point(points[i]));
    }
    return text.toString();
  }

  /** bytea: base64. */
  public static ColumnValue bytes(byte[] value) {
    return ColumnValue.text(Base64.getEncoder().encodeToString(value));
  }

  /**
   * bit and bit varying of more than one bit: base64 of the bits as Debezium's Bits type holds them
   * (a {@link BitSet}'s little-endian bytes, the last bit of the text first).
   */
  public static ColumnValue bits(String text) {
    BitSet bits = new BitSet(text.length());
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(text.length() - 1 - i) == '1') {
        bits.set(i);
      }
    }
    return bytes(bits.toByteArray());
  }

  /**
   * numeric as PostgreSQL prints it, except NaN and ±Infinity, which Debezium writes as {@code
   * NAN}, {@code POSITIVE_INFINITY} and {@code NEGATIVE_INFINITY}: they are written NaN, Infinity
   * and -Infinity.
   */
  public static ColumnValue numeric(String text) {
    return ColumnValue.text(
        switch (text) {
          case "NAN" -> "NaN";
          case "POSITIVE_INFINITY" -> "Infinity";
          case "NEGATIVE_INFINITY" -> "-Infinity";
          default -> text;
        });
  }

  /**
   * money: the amount in decimal text without currency symbol or group separators ({@code
   * -1234.56}), as Debezium gives it; read from PostgreSQL's text for lc_monetary C or en_US.
   */
  public static ColumnValue money(String text) {
    StringBuilder amount = new StringBuilder(text.length());
    boolean negative = text.startsWith("-") || text.startsWith("(");
    if (negative) {
      amount.append('-');
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if ((c >= '0' && c <= '9') || c == '.') {
        amount.append(c);
      }
    }
    return ColumnValue.text(amount.toString());
  }

  /**
   * interval: ISO-8601 as Debezium's interval.handling.mode=string writes it ({@code
   * io.debezium.time.Interval.toIsoString}): {@code P1Y2M3DT4H5M6.789S}.
   */
  public static ColumnValue interval(PGInterval value) {
    BigDecimal seconds =
        BigDecimal.valueOf(value.getWholeSeconds())
            .add(BigDecimal.valueOf(value.getMicroSeconds(), 6))
            .stripTrailingZeros();
    return ColumnValue.text(
        "P"
            + value.getYears()
            + "Y"
            + value.getMonths()
            + "M"
            + value.getDays()
            + "DT"
            + value.getHours()
            + "H"
            + value.getMinutes()
            + "M"
            + seconds.toPlainString()
            + "S");
  }

  /** hstore: a JSON object, written as Debezium's hstore.handling.mode=json writes it (Jackson). */
  public static ColumnValue hstore(Map<?, ?> value) {
    try {
      return new ColumnValue.Json(JSON.writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("hstore value cannot be written as JSON: " + e, e);
    }
  }

  /**
   * An array as a JSON array, each element in its type's form: numbers as JSON numbers, json and
   * jsonb embedded, everything else a JSON string. Multi-dimensional arrays nest.
   */
  public static ColumnValue array(Array array) throws SQLException {
    String type = array.getBaseTypeName();
    if (TEXT_ELEMENT_TYPES.contains(type)) {
      return simpleArray(array.toString(), type);
    }
    StringBuilder json = new StringBuilder();
    appendArray(json, (Object[]) array.getArray(), type);
    return new ColumnValue.Json(json.toString());
  }

  /**
   * The element types whose arrays are read from PostgreSQL's text of the array rather than from
   * PgJDBC's element objects: PgJDBC reads NaN and Infinity of a numeric[] as errors, times to the
   * millisecond, timestamps and dates in the JVM's zone, and timestamptz before 1582-10-15 in the
   * Julian calendar.
   */
  public static final java.util.Set<String> TEXT_ELEMENT_TYPES =
      java.util.Set.of("numeric", "time", "timetz", "timestamp", "timestamptz", "date");

  /**
   * An array of one of {@link #TEXT_ELEMENT_TYPES} from PostgreSQL's text of it ({@code
   * {1.50,NaN,NULL}}, {@code {"2026-03-29 02:30:00",NULL}}, nested braces for more dimensions, an
   * optional {@code [0:1]=} bounds prefix): each element in its type's form, NULL as null.
   */
  public static ColumnValue simpleArray(String literal, String type) {
    StringBuilder json = new StringBuilder(literal.length() + 16);
    appendTextArray(json, ArrayLiteral.parse(literal), type);
    return new ColumnValue.Json(json.toString());
  }

  private static void appendTextArray(StringBuilder json, List<?> elements, String type) {
    json.append('[');
    for (int i = 0; i < elements.size(); i++) {
      if (i > 0) {
        json.append(',');
      }
      Object element = elements.get(i);
      if (element instanceof List<?> nested) {
        appendTextArray(json, nested, type);
      } else {
        json.append(textElement((String) element, type).jsonText());
      }
    }
    json.append(']');
  }

  private static ColumnValue textElement(String text, String type) {
    if (text == null) {
      return ColumnValue.NULL;
    }
    return switch (type) {
      case "time" -> time(text);
      case "timetz" -> zonedTime(OffsetTime.parse(text, TIMETZ));
      case "timestamp" -> localTimestamp(text);
      case "timestamptz" -> utcTimestamp(text);
      case "date" -> date(text);
      case "numeric" -> numeric(text);
      default -> ColumnValue.text(text);
    };
  }

  private static void appendArray(StringBuilder json, Object[] elements, String type) {
    json.append('[');
    for (int i = 0; i < elements.length; i++) {
      if (i > 0) {
        json.append(',');
      }
      Object element = elements[i];
      if (element instanceof Object[] nested) {
        appendArray(json, nested, type);
      } else {
        ColumnValue value = element(element, type);
        json.append(value.jsonText());
      }
    }
    json.append(']');
  }

  private static ColumnValue element(Object element, String type) {
    if (element == null) {
      return ColumnValue.NULL;
    }
    return switch (type) {
      case "float4" -> real(((Number) element).floatValue());
      case "float8" -> doublePrecision(((Number) element).doubleValue());
      case "json", "jsonb" -> new ColumnValue.Json(element.toString());
      case "numeric" -> numeric(element.toString());
      case "bytea" -> bytes((byte[]) element);
      case "interval" -> interval((PGInterval) element);
      case "hstore" -> hstore((Map<?, ?>) element);
      default -> {
        if (element instanceof Boolean bool) {
          yield new ColumnValue.Bool(bool);
        }
        if (element instanceof Number number && !(element instanceof BigDecimal)) {
          yield new ColumnValue.Number(number.toString());
        }
        if (element instanceof PGobject object) {
          yield ColumnValue.text(text(object));
        }
        yield ColumnValue.text(element.toString());
      }
    };
  }

  private static Instant micros(long micros) {
    return Instant.ofEpochSecond(
        Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L);
  }
}
