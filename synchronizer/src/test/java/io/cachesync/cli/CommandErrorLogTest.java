package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * How the command line reports an unexpected error, in each log format: the real error handling of
 * {@link CachesyncCommand}, with a subcommand that fails as a bug would.
 */
class CommandErrorLogTest {

  @Command(name = "fail")
  static final class Failing implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new IllegalStateException("line one\nline two", new IOException("the cause"));
    }
  }

  /** What one run printed: through picocli's error writer, and on the process's stderr. */
  private record Printed(int exitCode, String err, String stderr) {}

  private static Printed run(String... arguments) {
    CommandLine commandLine = CachesyncCommand.commandLine().addSubcommand(new Failing());
    StringWriter err = new StringWriter();
    PrintWriter mine = new PrintWriter(err, true);
    commandLine.setErr(mine);
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    PrintStream original = System.err;
    System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
    try {
      int exitCode = commandLine.execute(arguments);
      return new Printed(exitCode, err.toString(), stderr.toString(StandardCharsets.UTF_8));
    } finally {
      System.setErr(original);
    }
  }

  @Test
  void unexpectedError_jsonFormatVerbose_isOneLogLineHoldingTheMessageAndTheTrace()
      throws Exception {
    Printed printed;
    LogLines.use(LogFormat.JSON);
    try {
      printed = run("--verbose", "fail");
    } finally {
      LogLines.use(LogFormat.TEXT);
    }

    assertThat(printed.exitCode()).isEqualTo(ExitCode.SOFTWARE);
    assertThat(printed.err()).isEmpty();
    assertThat(printed.stderr()).hasLineCount(1);
    JsonNode line = new ObjectMapper().readTree(printed.stderr());
    assertThat(line.get("level").asText()).isEqualTo("ERROR");
    assertThat(line.get("logger").asText()).isEqualTo(CachesyncCommand.class.getName());
    assertThat(line.get("message").asText())
        .isEqualTo("error: java.lang.IllegalStateException: line one\nline two");
    assertThat(line.get("exception").asText())
        .startsWith("java.lang.IllegalStateException: line one\nline two\n\tat ")
        .contains("\nCaused by: java.io.IOException: the cause\n");
  }

  @Test
  void unexpectedError_jsonFormatWithoutVerbose_isOneLogLineWithoutATrace() throws Exception {
    Printed printed;
    LogLines.use(LogFormat.JSON);
    try {
      printed = run("fail");
    } finally {
      LogLines.use(LogFormat.TEXT);
    }

    assertThat(printed.stderr()).hasLineCount(1);
    JsonNode line = new ObjectMapper().readTree(printed.stderr());
    assertThat(line.get("message").asText())
        .isEqualTo(
            "error: java.lang.IllegalStateException: line one\nline two\n"
                + "(run with --verbose for the stack trace)");
    assertThat(line.has("exception")).isFalse();
  }
}
