package io.cachesync.cli;

import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.job.Resync;
import io.cachesync.job.StreamFence;
import io.cachesync.job.Verifier;
import io.cachesync.job.Verifier.Drift;
import io.cachesync.job.Verifier.TableReport;
import io.cachesync.model.DisplayText;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.ReplicationSlots;
import io.cachesync.state.StateStore;
import java.io.PrintWriter;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code cachesync verify}: how far Redis has drifted from PostgreSQL. */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    description = {
      "Compares every mapped row (or a sample) with its Redis value, and every key under each"
          + " table's prefix with PostgreSQL. Exit 0 when consistent, 1 when drift was found."
    })
final class VerifyCommand implements Callable<Integer> {
  /** How long a difference may be a change in flight: the synchronizer's lag allowed. */
  private static final Duration IN_FLIGHT = Duration.ofSeconds(60);

  @Spec CommandSpec spec;

  @Mixin TableSelection selection;

  @Option(
      names = "--sample",
      paramLabel = "N",
      description =
          "Check N random rows and the first N keys a SCAN returns per table instead of all.")
  int sample;

  @Option(
      names = "--repair",
      description = "Fix what was found: resync the tables that drifted, then check again.")
  boolean repair;

  @Option(names = "--json", description = "Print a machine-readable report.")
  boolean json;

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
    List<TableReport> reports = verify(configuration, selected, repair);
    print(out, reports);
    boolean consistent = reports.stream().allMatch(TableReport::consistent);
    if (consistent || !repair) {
      return consistent ? ExitCode.OK : ExitCode.DRIFT;
    }
    List<TableMapping> drifted =
        selected.stream()
            .filter(
                t -> reports.stream().anyMatch(r -> r.table().equals(t.table()) && !r.consistent()))
            .toList();
    if (!json) {
      out.println(
          "repairing "
              + drifted.stream().map(t -> t.table().toString()).collect(Collectors.joining(", "))
              + " (resync)");
      out.flush();
    }
    CountDownLatch stop = new CountDownLatch(1);
    Signals.onTermination(stop::countDown);
    Resync.Result result =
        new Resync(configuration, new Resync.Progress(out, false, true), stop, Clock.systemUTC())
            .run(drifted);
    if (!result.completed()) {
      return ExitCode.INTERRUPTED;
    }
    List<TableReport> after = verify(configuration, drifted, false);
    if (!json) {
      out.println("after repair:");
    }
    print(out, after);
    return after.stream().allMatch(TableReport::consistent) ? ExitCode.OK : ExitCode.DRIFT;
  }

  /**
   * Checks each table.
   *
   * @param deleteWrongType delete the keys of the wrong type found (for a repair: a write never
   *     replaces a key of another type, it evicts it)
   */
  private List<TableReport> verify(
      Configuration configuration, List<TableMapping> selected, boolean deleteWrongType)
      throws Exception {
    SynchronizerSettings settings = configuration.settings();
    PostgresConnector postgres = new PostgresConnector(settings.postgres());
    boolean daemonRuns =
        new ReplicationSlots(postgres)
            .find(settings.slotName())
            .map(ReplicationSlots.Slot::active)
            .orElse(false);
    List<TableReport> reports = new ArrayList<>();
    try (Connection connection = postgres.open("verify");
        LettuceCacheInspector redis = LettuceCacheInspector.connect(settings.redis());
        StateStore state = LettuceStateStore.connect(settings.redis(), settings.stateKeyPrefix())) {
      Verifier verifier =
          new Verifier(
              () -> openAnother(postgres), redis, configuration.mapping(), deleteWrongType);
      long start = daemonRuns ? StreamFence.take(connection) : 0;
      StreamFence stream = new StreamFence(state, IN_FLIGHT);
      Optional<BooleanSupplier> caughtUp =
          daemonRuns ? Optional.of(() -> stream.reached(start)) : Optional.empty();
      for (TableMapping table : selected) {
        reports.add(verifier.verify(table, sample, caughtUp));
      }
    }
    return reports;
  }

  /** A further connection for verify's passes, once the first one has been opened. */
  private static Connection openAnother(PostgresConnector postgres) throws java.sql.SQLException {
    try {
      return postgres.open("verify");
    } catch (io.cachesync.ServerUnreachableException e) {
      throw new java.sql.SQLException(e.getMessage(), e);
    }
  }

  private void print(PrintWriter out, List<TableReport> reports) {
    if (json) {
      out.println(Verifier.json(reports));
      return;
    }
    long drifted = reports.stream().filter(r -> !r.consistent()).count();
    for (TableReport report : reports) {
      if (report.consistent()) {
        out.printf("%s: %,d rows checked: consistent%n", report.table(), report.rowsChecked());
        continue;
      }
      out.printf(
          "%s: %,d rows checked: %,d missing, %,d stale, %,d orphan, %,d wrong type%n",
          report.table(),
          report.rowsChecked(),
          report.count(Drift.MISSING),
          report.count(Drift.STALE),
          report.count(Drift.ORPHAN),
          report.count(Drift.WRONG_TYPE));
      for (Drift drift : Drift.values()) {
        List<Verifier.Offender> shown =
            report.examples().stream().filter(o -> o.drift() == drift).toList();
        shown.forEach(
            o ->
                out.printf(
                    "  %s: %s (%s)%n",
                    DisplayText.of(o.key()), o.drift().label(), DisplayText.of(o.detail())));
        long more = report.count(drift) - shown.size();
        if (more > 0) {
          out.printf(
              "  and %,d more %s (--json lists the first %d keys)%n",
              more, drift.label(), Verifier.firstKeysLimit());
        }
      }
    }
    out.println(
        drifted == 0
            ? "consistent"
            : "drift found in " + drifted + " of " + reports.size() + " tables");
  }
}
