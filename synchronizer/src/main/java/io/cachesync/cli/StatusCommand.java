package io.cachesync.cli;

import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationException;
import io.cachesync.status.StatusCollector;
import io.cachesync.status.StatusFacts;
import io.cachesync.status.StatusJson;
import io.cachesync.status.StatusText;
import io.cachesync.status.StatusVerdict;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cachesync status}: how the synchronizer stands, from what PostgreSQL and Redis hold. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = {
      "Shows the replication slot, the position stored in Redis, whether a daemon holds the"
          + " writer's role, pending work and each table's keys, whether a daemon runs or not."
          + " Exit 0 when a daemon streams with nothing pending, 1 when something needs attention"
          + " (each reason is listed), 3 when PostgreSQL or Redis cannot be read."
    })
final class StatusCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "synchronizer.yml")
  Path config;

  @Option(names = "--json", description = "Print one JSON object (fields in the README).")
  boolean json;

  @Override
  public Integer call() throws ConfigurationException, SQLException {
    Configuration configuration = ConfigurationFiles.load(config);
    StatusFacts facts = new StatusCollector(configuration).collect();
    StatusVerdict verdict = StatusVerdict.of(facts);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(StatusJson.of(facts, verdict));
      out.flush();
    } else {
      StatusText.print(out, facts, verdict);
    }
    return switch (verdict.verdict()) {
      case OK -> ExitCode.OK;
      case ATTENTION -> ExitCode.ATTENTION;
      case UNREACHABLE -> ExitCode.UNREACHABLE;
    };
  }
}
