package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.core.status.ErrorStatus;
import ch.qos.logback.core.status.InfoStatus;
import ch.qos.logback.core.status.WarnStatus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StatusWarningPrinterTest {
  private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
  private final StatusWarningPrinter printer =
      new StatusWarningPrinter(new PrintStream(printed, true, StandardCharsets.UTF_8));

  private String printed() {
    return printed.toString(StandardCharsets.UTF_8);
  }

  @Test
  void addStatusEvent_info_printsNothing() {
    printer.addStatusEvent(new InfoStatus("Found resource [logback.xml]", this));

    assertThat(printed()).isEmpty();
  }

  @Test
  void addStatusEvent_warningAndError_printsEachOnALine() {
    printer.addStatusEvent(new WarnStatus("No appender named [X]", this));
    printer.addStatusEvent(new ErrorStatus("Could not open file", this));

    assertThat(printed())
        .isEqualTo(
            "logback WARN: No appender named [X]"
                + System.lineSeparator()
                + "logback ERROR: Could not open file"
                + System.lineSeparator());
  }
}
