package io.cachesync.testing;

import io.cachesync.cli.CachesyncCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** One in-process run of the {@code cachesync} command line, with what it printed. */
public record CommandRun(int exitCode, String out, String err) {

  public static CommandRun of(String... arguments) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine commandLine = CachesyncCommand.commandLine();
    commandLine.setOut(new PrintWriter(out, true));
    commandLine.setErr(new PrintWriter(err, true));
    int exitCode = commandLine.execute(arguments);
    return new CommandRun(exitCode, out.toString(), err.toString());
  }

  /** Everything printed, for assertions that care about neither stream in particular. */
  public String output() {
    return out + err;
  }
}
