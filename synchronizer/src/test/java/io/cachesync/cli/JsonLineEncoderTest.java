package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonLineEncoderTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final LoggerContext context = new LoggerContext();
  private final Logger logger = context.getLogger("io.cachesync.sync.Synchronizer");
  private final JsonLineEncoder encoder = new JsonLineEncoder();

  JsonLineEncoderTest() {
    context.setMDCAdapter(new LogbackMDCAdapter());
    context.putProperty(LogLines.SYNCHRONIZER, "shop");
    encoder.setContext(context);
    encoder.start();
  }

  private LoggingEvent event(String message, Throwable thrown, Object... arguments) {
    LoggingEvent event =
        new LoggingEvent(Logger.FQCN, logger, Level.WARN, message, thrown, arguments);
    event.setInstant(Instant.parse("2026-11-25T19:24:35.804040Z"));
    event.setThreadName("debezium-postgresconnector-shop-change-event-source-coordinator");
    return event;
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  private static JsonNode parse(String line) {
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void encode_event_writesTheNamedFieldsOnOneLine() {
    String line = text(encoder.encode(event("Cannot cache a change to {}: {}", null, "t", "why")));

    assertThat(line).endsWith("}\n").hasLineCount(1);
    assertThat(parse(line))
        .isEqualTo(
            JSON.valueToTree(
                Map.of(
                    "timestamp", "2026-11-25T19:24:35.804Z",
                    "level", "WARN",
                    "logger", "io.cachesync.sync.Synchronizer",
                    "thread", "debezium-postgresconnector-shop-change-event-source-coordinator",
                    "synchronizer", "shop",
                    "message", "Cannot cache a change to t: why")));
  }

  @Test
  void encode_exceptionWithLineBreaksAndCause_staysOnOneLineWithTheWholeTrace() {
    IllegalStateException thrown =
        new IllegalStateException(
            "first line\nsecond line \"quoted\"", new java.io.IOException("the cause"));

    String line = text(encoder.encode(event("Batch failed", thrown)));

    assertThat(line).hasLineCount(1);
    JsonNode json = parse(line);
    assertThat(json.get("message").asText()).isEqualTo("Batch failed");
    assertThat(json.get("exception").asText())
        .startsWith("java.lang.IllegalStateException: first line\nsecond line \"quoted\"\n\tat ")
        .contains("\nCaused by: java.io.IOException: the cause\n")
        .contains("JsonLineEncoderTest");
  }

  @Test
  void encode_tableAndLsnInTheMdc_becomeFieldsAndNoOtherMdcEntryOrPropertyDoes() {
    context.putProperty("postgres.password", "context-secret");
    LoggingEvent event = event("Redis cannot take the batch", null);
    event.setMDCPropertyMap(
        Map.of(
            "table", "public.users",
            "lsn", "0/16B3748",
            "dbz.connectorName", "shop",
            "password", "mdc-secret"));

    String line = text(encoder.encode(event));

    JsonNode json = parse(line);
    assertThat(json.get("table").asText()).isEqualTo("public.users");
    assertThat(json.get("lsn").asText()).isEqualTo("0/16B3748");
    assertThat(json.fieldNames())
        .toIterable()
        .containsExactly(
            "timestamp", "level", "logger", "thread", "synchronizer", "table", "lsn", "message");
    assertThat(line).doesNotContain("secret").doesNotContain("dbz.");
  }

  @Test
  void encode_failedReconnectOfTheRedisClient_leavesItsTraceOut() {
    Logger reconnects = context.getLogger(ReconnectTraceFilter.RECONNECTS);
    LoggingEvent event =
        new LoggingEvent(
            Logger.FQCN,
            reconnects,
            Level.WARN,
            "Cannot reconnect to [127.0.0.1:6380]: PKIX path building failed",
            new javax.net.ssl.SSLHandshakeException("PKIX path building failed"),
            null);

    JsonNode json = parse(text(encoder.encode(event)));

    assertThat(json.get("message").asText())
        .isEqualTo("Cannot reconnect to [127.0.0.1:6380]: PKIX path building failed");
    assertThat(json.has("exception")).isFalse();
    assertThat(new ReconnectTraceFilter().evaluate(event)).isTrue();
    assertThat(new ReconnectTraceFilter().evaluate(event("Batch failed", null))).isFalse();
  }

  @Test
  void encode_clusterNodeTheTopologyRefreshCannotReach_leavesItsTraceOut() {
    Logger refreshes = context.getLogger(ReconnectTraceFilter.TOPOLOGY_REFRESHES);
    LoggingEvent event =
        new LoggingEvent(
            Logger.FQCN,
            refreshes,
            Level.WARN,
            "Unable to connect to [127.0.0.1:7000]: javax.net.ssl.SSLHandshakeException: Received"
                + " fatal alert: certificate_required",
            new IllegalStateException(
                new javax.net.ssl.SSLHandshakeException(
                    "Received fatal alert: certificate_required")),
            null);

    JsonNode json = parse(text(encoder.encode(event)));

    assertThat(json.get("message").asText()).endsWith("Received fatal alert: certificate_required");
    assertThat(json.has("exception")).isFalse();
    assertThat(new ReconnectTraceFilter().evaluate(event)).isTrue();
  }
}
