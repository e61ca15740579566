package io.cachesync.cli;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.ConfigurationException;
import io.cachesync.redis.RedisRefusedException;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.TlsNotOfferedException;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.time.ZoneOffset;
import java.util.TimeZone;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code cachesync} command line. */
@Command(
    name = "cachesync",
    mixinStandardHelpOptions = true,
    versionProvider = VersionReport.class,
    description = "Keeps Redis caches coherent with PostgreSQL by tailing its write-ahead log.",
    subcommands = {
      RunCommand.class,
      ResyncCommand.class,
      VerifyCommand.class,
      ValidateCommand.class,
      StatusCommand.class,
      GrantsCommand.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:done; the configuration is valid; status: a daemon streams, nothing pending",
      "1:verify found drift; status found something that needs attention",
      "2:the configuration or the servers' setup is wrong (each problem is printed with its fix)",
      "3:PostgreSQL or Redis cannot be reached",
      "70:unexpected error (--verbose shows the stack trace)",
      "124:resync not done within --timeout (the request stays queued for the daemon)",
      "130:stopped by Ctrl-C or SIGTERM before a job was done (run it again to finish)"
    })
public final class CachesyncCommand {

  @Option(
      names = "--verbose",
      scope = CommandLine.ScopeType.INHERIT,
      description = "Print stack traces of unexpected errors.")
  boolean verbose;

  public static void main(String[] args) {
    useUtcSessions();
    LogFormat format;
    try {
      format = LogFormat.fromEnvironment();
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(ExitCode.INVALID);
      return;
    }
    // Before the first line: nothing logs until a command runs.
    LogLines.use(format);
    CommandLine commandLine = commandLine();
    if (format == LogFormat.JSON) {
      commandLine.setErr(new PrintWriter(new LoggedLines(log()), true));
    }
    System.exit(commandLine.execute(args));
  }

  /**
   * Makes every PostgreSQL session cachesync opens, the replication stream's included, run in UTC.
   * PostgreSQL prints some values in the session's time zone (the bounds of {@code tstzrange} and
   * {@code tstzmultirange}, a {@code timestamptz} inside a composite value, arrays of these), and
   * PgJDBC sets every session's zone to the JVM's when it connects, in the startup packet, where a
   * {@code -c TimeZone} option cannot override it. Debezium opens the replication connection, so
   * cachesync cannot set the zone there after connecting either. Without this, a daemon on a host
   * in one zone caches text that {@code verify} run from another zone reports as stale. The log
   * prints its times in UTC already.
   */
  static void useUtcSessions() {
    TimeZone.setDefault(TimeZone.getTimeZone(ZoneOffset.UTC));
  }

  /** The command line with its error handling, for {@link #main} and tests. */
  public static CommandLine commandLine() {
    CommandLine commandLine = new CommandLine(new CachesyncCommand());
    commandLine.setExecutionExceptionHandler(CachesyncCommand::handle);
    return commandLine;
  }

  private static int handle(Exception e, CommandLine commandLine, CommandLine.ParseResult parsed) {
    CachesyncCommand root =
        commandLine.getCommandSpec().root().userObject() instanceof CachesyncCommand c ? c : null;
    boolean verbose = root != null && root.verbose;
    if (e instanceof ConfigurationException) {
      return report(commandLine, e.getMessage(), null, ExitCode.INVALID);
    }
    if (e instanceof ServerUnreachableException) {
      return report(commandLine, "error: " + e.getMessage(), null, ExitCode.UNREACHABLE);
    }
    if (e instanceof RedisRefusedException) {
      return report(commandLine, "error: " + e.getMessage(), null, ExitCode.INVALID);
    }
    SQLException refused = sqlCause(e);
    if (refused instanceof TlsNotOfferedException) {
      return report(commandLine, "error: " + refused.getMessage(), null, ExitCode.INVALID);
    }
    if (refused != null && refused.getSQLState() != null) {
      String state = refused.getSQLState();
      // 08, 57P0x, 53300: the server cannot serve now (PostgresConnector.unavailable); 28: the
      // login was refused; 3D000: no such database; 42501: a right is missing. The server's
      // messages name the user or object, never a password.
      if (PostgresConnector.unavailable(refused)) {
        return report(
            commandLine,
            "error: PostgreSQL cannot be reached: " + refused.getMessage(),
            null,
            ExitCode.UNREACHABLE);
      }
      if (state.startsWith("28") || state.equals("3D000") || state.equals("42501")) {
        return report(
            commandLine,
            "error: PostgreSQL refused the request: "
                + refused.getMessage()
                + "; check postgres.user, postgres.password (or passwordFile) and postgres.database, and run"
                + " `cachesync validate` for the rights the configuration needs",
            null,
            ExitCode.INVALID);
      }
    }
    if (verbose) {
      return report(commandLine, "error: " + e, e, ExitCode.SOFTWARE);
    }
    return report(
        commandLine,
        "error: " + e + "\n(run with --verbose for the stack trace)",
        null,
        ExitCode.SOFTWARE);
  }

  /**
   * Says why the command failed, on stderr: as text, or with {@code CACHESYNC_LOG_FORMAT=json} as
   * one log event that holds the whole message and the stack trace, if any.
   */
  private static int report(
      CommandLine commandLine, String message, Throwable trace, int exitCode) {
    if (LogLines.format() == LogFormat.JSON) {
      log().error(message, trace);
      return exitCode;
    }
    PrintWriter err = commandLine.getErr();
    err.println(message);
    if (trace != null) {
      trace.printStackTrace(err);
    }
    return exitCode;
  }

  private static Logger log() {
    return LoggerFactory.getLogger(CachesyncCommand.class);
  }

  /** The first {@link SQLException} in the cause chain of {@code e}, or null. */
  private static SQLException sqlCause(Throwable e) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof SQLException sql) {
        return sql;
      }
      if (cause.getCause() == cause) {
        return null;
      }
    }
    return null;
  }
}
