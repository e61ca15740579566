package io.cachesync.cli;

import io.cachesync.config.Configuration;
import io.cachesync.job.Resync;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Ttl;
import io.cachesync.preflight.Preflight;
import io.cachesync.preflight.PreflightReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
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

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      defaultValue = "1h",
      converter = DurationConverter.class,
      description =
          "How long to wait for the load (90s, 15m, 1h; default ${DEFAULT-VALUE}). When it"
              + " passes, the request stays queued for the daemon and the job exits 124.")
  Duration timeout;

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
        new Resync(configuration, progress, stop, Clock.systemUTC(), timeout).run(selected);
    if (result.outcome() == Resync.Outcome.TIMED_OUT) {
      spec.commandLine()
          .getErr()
          .printf(
              "resync not done within %d s (--timeout): %s; wait longer with --timeout, or check"
                  + " that a daemon runs%n",
              timeout.toSeconds(), result.detail());
      return ExitCode.TIMED_OUT;
    }
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

  /** Reads {@code --timeout} as the mapping's {@code ttl} is read: 90s, 15m, 1h, 1h30m. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String text) {
      try {
        return Ttl.parse(text).duration();
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
