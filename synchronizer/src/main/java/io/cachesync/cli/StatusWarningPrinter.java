package io.cachesync.cli;

import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.status.StatusListener;
import java.io.PrintStream;

/**
 * Prints Logback's own warnings and errors (a broken logback.xml, an appender that failed) on
 * stderr, and nothing of its routine information. Registered in logback.xml: without a listener
 * Logback prints its warnings on stdout, where they would corrupt command output (verify's JSON);
 * its {@code OnErrorConsoleStatusListener} prints every status, some thirty lines on each start.
 */
public final class StatusWarningPrinter implements StatusListener {
  private final PrintStream out;

  public StatusWarningPrinter() {
    this(System.err);
  }

  StatusWarningPrinter(PrintStream out) {
    this.out = out;
  }

  @Override
  public void addStatusEvent(Status status) {
    if (status.getEffectiveLevel() < Status.WARN) {
      return;
    }
    out.println(
        "logback "
            + (status.getEffectiveLevel() == Status.ERROR ? "ERROR" : "WARN")
            + ": "
            + status.getMessage());
    if (status.getThrowable() != null) {
      status.getThrowable().printStackTrace(out);
    }
  }
}
