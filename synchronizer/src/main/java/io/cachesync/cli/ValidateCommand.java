package io.cachesync.cli;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationException;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.config.Problem;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableMapping;
import io.cachesync.preflight.Finding;
import io.cachesync.preflight.Preflight;
import io.cachesync.preflight.PreflightReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cachesync validate}: checks both files and, unless offline, the live servers. */
@Command(
    name = "validate",
    mixinStandardHelpOptions = true,
    description = {
      "Checks synchronizer.yml and the mapping file, then runs the preflight against PostgreSQL and"
          + " Redis: wal_level, replication rights, tables, columns, replica identity, publication,"
          + " Redis role and eviction policy."
    })
final class ValidateCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "synchronizer.yml")
  Path config;

  @Option(names = "--offline", description = "Check the files only; do not contact the servers.")
  boolean offline;

  @Override
  public Integer call() throws ConfigurationException, ServerUnreachableException {
    PrintWriter out = spec.commandLine().getOut();
    Configuration configuration = ConfigurationLoader.fromEnvironment().load(config);
    LogLines.name(configuration.settings().name());
    printSummary(out, configuration);
    for (Problem warning : configuration.warnings()) {
      out.println("warning: " + warning);
    }
    if (offline) {
      out.println("preflight skipped (--offline)");
      return ExitCode.OK;
    }
    out.println("preflight:");
    out.flush();
    PreflightReport report = Preflight.run(configuration);
    for (Finding finding : report.findings()) {
      out.printf(
          "  %-4s  %s: %s%n", finding.status().label(), finding.subject(), finding.message());
    }
    if (report.passed()) {
      out.println("preflight passed");
      return ExitCode.OK;
    }
    int failures = report.failures().size();
    out.println(
        "preflight failed: "
            + failures
            + (failures == 1 ? " problem" : " problems")
            + " (FAIL above)");
    return ExitCode.INVALID;
  }

  private static void printSummary(PrintWriter out, Configuration configuration) {
    SynchronizerSettings settings = configuration.settings();
    out.println(configuration.file() + ": valid");
    out.println(
        "  name "
            + settings.name()
            + ": replication slot "
            + settings.slotName()
            + ", publication "
            + settings.publicationName()
            + ", state keys "
            + settings.stateKeyPrefix()
            + "*");
    out.println("  postgres " + settings.postgres().user() + "@" + settings.postgres().address());
    out.println(
        "  redis " + settings.redis().redactedUri() + ", " + settings.redis().describeTransport());
    int count = configuration.mapping().tables().size();
    out.println(
        "  mapping " + settings.mapping() + ": " + count + (count == 1 ? " table" : " tables"));
    int tableWidth = width(configuration, t -> t.table().toString());
    int keyWidth = width(configuration, t -> t.key().text());
    for (TableMapping table : configuration.mapping().tables()) {
      out.printf(
          "    %-" + tableWidth + "s  %-" + keyWidth + "s  %s%n",
          table.table(),
          table.key(),
          describe(table));
    }
  }

  private static int width(Configuration configuration, Function<TableMapping, String> column) {
    return configuration.mapping().tables().stream()
        .mapToInt(t -> column.apply(t).length())
        .max()
        .orElse(1);
  }

  private static String describe(TableMapping table) {
    return table.format().configName()
        + ", "
        + table.mode().configName()
        + ", "
        + (table.allColumns() ? "all columns" : "columns " + String.join(", ", table.columns()))
        + table.ttl().map(ttl -> ", ttl " + ttl).orElse("");
  }
}
