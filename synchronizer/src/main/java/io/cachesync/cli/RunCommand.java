package io.cachesync.cli;

import io.cachesync.Daemon;
import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.preflight.Finding;
import io.cachesync.preflight.Preflight;
import io.cachesync.preflight.PreflightReport;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cachesync run}: the daemon. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = {
      "Runs the preflight, loads the mapped tables into Redis when needed, then streams every"
          + " committed change until SIGTERM or SIGINT (exit 0 after a clean stop)."
    })
final class RunCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "synchronizer.yml")
  Path config;

  @Override
  public Integer call() throws Exception {
    Configuration configuration = ConfigurationLoader.fromEnvironment().load(config);
    SynchronizerSettings settings = configuration.settings();
    MDC.put("synchronizer", settings.name());
    LOG.info(
        "Starting: {} tables, PostgreSQL {}, Redis {}",
        configuration.mapping().tables().size(),
        settings.postgres().address(),
        settings.redis().redactedUri());
    PreflightReport report = Preflight.run(configuration);
    report.findings().stream()
        .filter(f -> f.status() != Finding.Status.OK)
        .forEach(f -> LOG.warn("Preflight: {}", f));
    if (!report.passed()) {
      LOG.error("Preflight failed ({} problems above); not starting", report.failures().size());
      return ExitCode.INVALID;
    }
    Daemon daemon;
    try {
      daemon = Daemon.start(configuration);
    } catch (Daemon.StartRefusedException e) {
      LOG.error("Not starting: {}", e.getMessage());
      return ExitCode.INVALID;
    }
    Signals.onTermination(() -> new Thread(daemon::stop, "cachesync-stop").start());
    Daemon.State end = daemon.terminated().join();
    return end == Daemon.State.STOPPED ? ExitCode.OK : ExitCode.SOFTWARE;
  }
}
