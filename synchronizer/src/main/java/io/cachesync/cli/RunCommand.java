package io.cachesync.cli;

import io.cachesync.Backoff;
import io.cachesync.Daemon;
import io.cachesync.ServerUnreachableException;
import io.cachesync.SlotMonitor;
import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.http.HttpEndpoint;
import io.cachesync.metrics.Phase;
import io.cachesync.metrics.SyncMetrics;
import io.cachesync.preflight.Finding;
import io.cachesync.preflight.Preflight;
import io.cachesync.preflight.PreflightReport;
import io.cachesync.redis.RedisRefusedException;
import io.cachesync.sync.RedisUnavailableException;
import io.lettuce.core.RedisException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cachesync run}: the daemon. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = {
      "Runs the preflight, loads the mapped tables into Redis when needed, then streams every"
          + " committed change until SIGTERM or SIGINT (exit 0 after a clean stop). While another"
          + " daemon of the same name holds the writer's role (a lease in Redis, held while it"
          + " loads and streams), it stands by and takes over when that one stops or dies;"
          + " while a server cannot be reached, it waits and tries again (a TLS certificate"
          + " refused by either side ends it with exit 3)."
    })
final class RunCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

  /** How often a standby daemon checks whether the writer's role is free. */
  private static final Duration STANDBY_POLL = Duration.ofSeconds(1);

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "synchronizer.yml")
  Path config;

  @Override
  public Integer call() throws Exception {
    Configuration configuration = ConfigurationFiles.load(config);
    SynchronizerSettings settings = configuration.settings();
    LOG.info(
        "Starting: {} tables, PostgreSQL {}, Redis {}",
        configuration.mapping().tables().size(),
        settings.postgres().address(),
        settings.redis().redactedUri());
    if (settings.redis().usesTls()) {
      LOG.info("Redis connections: {}", settings.redis().describeTransport());
    }
    try (SyncMetrics metrics =
        new SyncMetrics(
            settings.name(),
            configuration.mapping().tables(),
            settings.http(),
            Clock.systemUTC())) {
      HttpEndpoint endpoint = null;
      if (settings.http().enabled()) {
        try {
          endpoint = HttpEndpoint.start(settings.http(), metrics);
        } catch (HttpEndpoint.BindFailedException e) {
          LOG.error("Not starting: {}", e.getMessage());
          return ExitCode.INVALID;
        }
      }
      try (HttpEndpoint ignored = endpoint;
          SlotMonitor slotMonitor = SlotMonitor.start(settings, metrics)) {
        return run(configuration, metrics);
      }
    }
  }

  /** Preflight, then daemons one after the other until a stop is requested. */
  private int run(Configuration configuration, SyncMetrics metrics) throws Exception {
    SynchronizerSettings settings = configuration.settings();
    CountDownLatch stopRequested = new CountDownLatch(1);
    AtomicReference<Daemon> current = new AtomicReference<>();
    Signals.onTermination(
        () -> {
          stopRequested.countDown();
          Daemon daemon = current.get();
          if (daemon != null) {
            new Thread(daemon::stop, "cachesync-stop").start();
          }
        });
    // Between attempts to start: 1 s doubling to 30 s.
    Backoff backoff = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30));
    boolean standingBy = false;
    boolean preflightPassed = false;
    boolean started = false;
    while (stopRequested.getCount() > 0) {
      Daemon daemon;
      try {
        if (!preflightPassed) {
          metrics.phase(Phase.PREFLIGHT);
          PreflightReport report = Preflight.run(configuration);
          report.findings().stream()
              .filter(f -> f.status() != Finding.Status.OK)
              .forEach(f -> LOG.warn("Preflight: {}", f));
          if (!report.passed()) {
            LOG.error(
                "Preflight failed ({} problems above); not starting", report.failures().size());
            return ExitCode.INVALID;
          }
          preflightPassed = true;
        }
        metrics.phase(Phase.STARTING);
        daemon = Daemon.start(configuration, metrics);
      } catch (Daemon.SlotInUseException e) {
        metrics.phase(Phase.STANDBY);
        if (!standingBy) {
          LOG.info("Standing by: {}; taking over when it stops", e.getMessage());
          standingBy = true;
        }
        stopRequested.await(STANDBY_POLL.toMillis(), TimeUnit.MILLISECONDS);
        continue;
      } catch (Daemon.StartRefusedException e) {
        LOG.error("Not starting: {}", e.getMessage());
        return ExitCode.INVALID;
      } catch (RedisRefusedException e) {
        // A TLS certificate or a login Redis refuses: at the first start the settings are wrong,
        // and waiting would hide it. A daemon that streamed already keeps trying (a renewed
        // certificate or CA file is read again at the next attempt), saying why each time.
        if (!started) {
          LOG.error("Not starting: {}", e.getMessage());
          return ExitCode.INVALID;
        }
        metrics.phase(Phase.WAITING_FOR_REDIS);
        Duration delay = backoff.next();
        LOG.warn("Cannot start: {}; trying again in {} s", e.getMessage(), delay.toSeconds());
        stopRequested.await(delay.toMillis(), TimeUnit.MILLISECONDS);
        continue;
      } catch (ServerUnreachableException
          | SQLException
          | RedisException
          | RedisUnavailableException e) {
        if (e instanceof ServerUnreachableException u && u.tlsFailed() && !started) {
          // A refused certificate or TLS file needs a change on one side; waiting here at the
          // first start would hide it. The service manager's restart (exit 3 is retried) picks up
          // a fix. A daemon that streamed already keeps trying below (certificate and CA files
          // are read again at each attempt), saying why each time.
          LOG.error("Not starting: {}", e.getMessage());
          return ExitCode.UNREACHABLE;
        }
        metrics.phase(
            e instanceof RedisException
                    || e instanceof RedisUnavailableException
                    || (e instanceof ServerUnreachableException u && u.server().equals("Redis"))
                ? Phase.WAITING_FOR_REDIS
                : Phase.WAITING_FOR_POSTGRES);
        Duration delay = backoff.next();
        LOG.warn("Cannot start: {}; trying again in {} s", message(e), delay.toSeconds());
        stopRequested.await(delay.toMillis(), TimeUnit.MILLISECONDS);
        continue;
      }
      if (standingBy) {
        LOG.info("Took over replication slot {}", settings.slotName());
        standingBy = false;
      }
      started = true;
      current.set(daemon);
      if (stopRequested.getCount() == 0) {
        daemon.stop();
      }
      Daemon.State end = daemon.terminated().join();
      current.set(null);
      if (end == Daemon.State.STOPPED && !daemon.reloadNeeded()) {
        return ExitCode.OK;
      }
      if (end == Daemon.State.FAILED) {
        // Debezium gave up (its own retries are unlimited, so this is rare): start afresh from
        // the state in Redis, which resumes where the last acknowledged batch ended.
        Duration delay = backoff.next();
        metrics.phase(Phase.STARTING);
        LOG.warn("The daemon failed (see above); starting it again in {} s", delay.toSeconds());
        stopRequested.await(delay.toMillis(), TimeUnit.MILLISECONDS);
      } else {
        backoff.reset();
      }
    }
    return ExitCode.OK;
  }

  private static String message(Exception e) {
    return e instanceof ServerUnreachableException ? e.getMessage() : e.toString();
  }
}
