package io.cachesync.cli;

import io.cachesync.config.Configuration;
import io.cachesync.job.Resync;
import io.cachesync.model.TableMapping;
import io.cachesync.preflight.Preflight;
import io.cachesync.preflight.PreflightReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cachesync resync}: reloads tables into Redis and removes their orphan keys. */
@Command(
    name = "resync",
    mixinStandardHelpOptions = true,
    description = {
      "Reloads the named tables (default: all mapped tables) from PostgreSQL into Redis and removes"
          + " orphan keys, without stopping a running daemon and without regressing newer data."
    })
final class ResyncCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin TableSelection selection;

  @Option(names = "--quiet", description = "No progress; only the summary.")
  boolean quiet;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Configuration configuration = selection.load();
    Optional<List<TableMapping>> chosen =
        selection.select(configuration, spec.commandLine().getErr());
    if (chosen.isEmpty()) {
      return ExitCode.INVALID;
    }
    List<TableMapping> selected = chosen.get();
    PreflightReport report = Preflight.run(configuration);
    if (!report.passed()) {
      report
          .failures()
          .forEach(
              f -> spec.commandLine().getErr().println("FAIL " + f.subject() + ": " + f.message()));
      return ExitCode.INVALID;
    }
    CountDownLatch stop = new CountDownLatch(1);
    Signals.onTermination(stop::countDown);
    Resync.Progress progress = new Resync.Progress(out, System.console() != null, quiet);
    Resync.Result result =
        new Resync(configuration, progress, stop, Clock.systemUTC()).run(selected);
    if (!result.completed()) {
      out.println("resync stopped before the load finished; run it again to finish the job");
      return ExitCode.INTERRUPTED;
    }
    long rows = result.rowsLoaded().values().stream().mapToLong(Long::longValue).sum();
    double seconds = Math.max(result.took().toMillis() / 1000.0, 0.001);
    out.printf(
        "resync done in %.1f s: %,d rows loaded (%,d rows/s), %,d orphan keys removed%n",
        seconds, rows, Math.round(rows / seconds), result.orphansRemoved());
    result.rowsLoaded().forEach((table, count) -> out.printf("  %s: %,d rows%n", table, count));
    return ExitCode.OK;
  }
}
