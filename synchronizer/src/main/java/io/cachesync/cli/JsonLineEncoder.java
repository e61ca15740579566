package io.cachesync.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.encoder.EncoderBase;
import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

/**
 * Writes each log event as one JSON object on one line ({@code CACHESYNC_LOG_FORMAT=json}), with a
 * fixed set of fields: {@code timestamp} (ISO-8601, UTC, milliseconds), {@code level}, {@code
 * logger}, {@code thread}, {@code synchronizer}, {@code table} and {@code lsn} when the MDC holds
 * them, {@code message} (formatted) and {@code exception} (the stack trace as one string, its line
 * breaks escaped).
 *
 * <p>Not logback's {@code JsonEncoder}: its timestamp is epoch milliseconds, and the synchronizer's
 * name would only reach it with every logger context property and MDC entry (Debezium puts its own
 * in the MDC). Here each field is named: nothing else a library stores there can reach a line.
 */
public final class JsonLineEncoder extends EncoderBase<ILoggingEvent> {
  private static final JsonFactory JSON = new JsonFactory();

  /** The text format's timestamp too: {@code 2026-11-25T19:24:35.804Z}. */
  private static final DateTimeFormatter TIMESTAMP =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSX").withZone(ZoneOffset.UTC);

  /** The MDC entries a line carries, when set: the table and the position it is about. */
  static final List<String> MDC_KEYS = List.of("table", "lsn");

  @Override
  public byte[] headerBytes() {
    return null;
  }

  @Override
  public byte[] encode(ILoggingEvent event) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    try (JsonGenerator json = JSON.createGenerator(bytes, JsonEncoding.UTF8)) {
      json.writeStartObject();
      json.writeStringField("timestamp", TIMESTAMP.format(event.getInstant()));
      json.writeStringField("level", event.getLevel().toString());
      json.writeStringField("logger", event.getLoggerName());
      json.writeStringField("thread", event.getThreadName());
      json.writeStringField("synchronizer", synchronizer(event));
      Map<String, String> mdc = event.getMDCPropertyMap();
      for (String key : MDC_KEYS) {
        String value = mdc.get(key);
        if (value != null) {
          json.writeStringField(key, value);
        }
      }
      json.writeStringField("message", event.getFormattedMessage());
      IThrowableProxy thrown = event.getThrowableProxy();
      if (thrown != null && !ReconnectTraceFilter.hides(event)) {
        json.writeStringField("exception", ThrowableProxyUtil.asString(thrown));
      }
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    bytes.write('\n');
    return bytes.toByteArray();
  }

  /** The context property {@link LogLines#name} sets, which every thread's events carry. */
  private static String synchronizer(ILoggingEvent event) {
    return event.getLoggerContextVO() == null
        ? null
        : event.getLoggerContextVO().getPropertyMap().get(LogLines.SYNCHRONIZER);
  }

  @Override
  public byte[] footerBytes() {
    return null;
  }
}
