package io.cachesync.preflight;

import static java.util.Objects.requireNonNull;

/**
 * One result of the preflight: what was checked and, when it failed, the fix.
 *
 * @param subject what the finding is about: {@code postgres}, {@code redis} or a table
 */
public record Finding(Status status, String subject, String message) {

  /** How a check came out. */
  public enum Status {
    OK("ok"),
    /** Could not be checked, or works but deserves attention; does not fail the preflight. */
    WARNING("warn"),
    FAILED("FAIL");

    private final String label;

    Status(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  public Finding {
    requireNonNull(status, "status");
    requireNonNull(subject, "subject");
    requireNonNull(message, "message");
  }

  public static Finding ok(String subject, String message) {
    return new Finding(Status.OK, subject, message);
  }

  public static Finding warning(String subject, String message) {
    return new Finding(Status.WARNING, subject, message);
  }

  public static Finding failed(String subject, String message) {
    return new Finding(Status.FAILED, subject, message);
  }

  public boolean failed() {
    return status == Status.FAILED;
  }

  @Override
  public String toString() {
    return status.label() + " " + subject + ": " + message;
  }
}
