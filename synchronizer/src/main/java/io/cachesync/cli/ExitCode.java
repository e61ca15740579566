package io.cachesync.cli;

/** The exit codes of every command, documented in the README. */
public final class ExitCode {
  /** Done: the daemon stopped cleanly, the job finished, the configuration is valid. */
  public static final int OK = 0;

  /** {@code verify} found drift between Redis and PostgreSQL. */
  public static final int DRIFT = 1;

  /** {@code status}: something needs attention (each reason is printed). */
  public static final int ATTENTION = 1;

  /** The configuration or the servers' setup is wrong; the output names each problem and fix. */
  public static final int INVALID = 2;

  /** PostgreSQL or Redis could not be reached. */
  public static final int UNREACHABLE = 3;

  /** Stopped by SIGINT or SIGTERM before the job was done; running it again finishes it. */
  public static final int INTERRUPTED = 130;

  /**
   * {@code resync}: the load was not done within {@code --timeout}; the request stays queued and a
   * daemon finishes it (the code of {@code timeout(1)}).
   */
  public static final int TIMED_OUT = 124;

  /** An unexpected error; {@code --verbose} shows its stack trace. */
  public static final int SOFTWARE = 70;

  private ExitCode() {}
}
