package io.cachesync;

import io.cachesync.config.SynchronizerSettings;
import io.cachesync.metrics.ReplicationSlotUsage;
import io.cachesync.metrics.SyncMetrics;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.ReplicationSlots;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the replication slot's usage (the WAL it keeps, its confirmed position, whether it is
 * active) from PostgreSQL every few seconds for the metrics, over one connection kept open, and
 * tells the metrics when PostgreSQL cannot be reached. Runs for the whole process, standby
 * included: the WAL a slot keeps matters most when nothing streams from it.
 */
public final class SlotMonitor implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SlotMonitor.class);

  /** How often PostgreSQL is asked: cheap, and often enough for an alert on growing WAL. */
  public static final Duration EVERY = Duration.ofSeconds(5);

  private final PostgresConnector connector;
  private final String slotName;
  private final SyncMetrics metrics;
  private final ScheduledExecutorService executor;
  private Connection connection;
  private boolean reportedUnreachable;

  private SlotMonitor(SynchronizerSettings settings, SyncMetrics metrics) {
    this.connector = new PostgresConnector(settings.postgres());
    this.slotName = settings.slotName();
    this.metrics = metrics;
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "cachesync-slot-monitor");
              thread.setDaemon(true);
              return thread;
            });
  }

  public static SlotMonitor start(SynchronizerSettings settings, SyncMetrics metrics) {
    SlotMonitor monitor = new SlotMonitor(settings, metrics);
    monitor.executor.scheduleWithFixedDelay(
        monitor::read, 0, EVERY.toMillis(), TimeUnit.MILLISECONDS);
    return monitor;
  }

  private void read() {
    try {
      if (connection == null || connection.isClosed()) {
        connection = connector.openForShortStatements("slot usage");
      }
      ReplicationSlots.WalView view = ReplicationSlots.view(connection, slotName);
      metrics.slot(
          view.slot()
              .map(
                  slot ->
                      new ReplicationSlotUsage(
                          view.currentLsn(),
                          slot.restartLsn().orElse(0L),
                          slot.slot().confirmedFlushLsn(),
                          slot.slot().active()))
              .orElse(new ReplicationSlotUsage(view.currentLsn(), 0, 0, false)));
      if (reportedUnreachable) {
        LOG.info("PostgreSQL answers again");
        reportedUnreachable = false;
      }
    } catch (ServerUnreachableException | SQLException | RuntimeException e) {
      closeConnection();
      // Only a server that cannot serve makes the daemon wait for PostgreSQL; a refused statement
      // (a right revoked, a connection limit of the role) leaves the stream as it is.
      boolean unreachable =
          e instanceof ServerUnreachableException
              || (e instanceof SQLException sql && PostgresConnector.unavailable(sql));
      metrics.slotUnknown(unreachable);
      if (!reportedUnreachable) {
        LOG.warn(
            "Cannot read replication slot {} from PostgreSQL: {}; the slot's metrics are unknown"
                + " until it can, tried every {} s",
            slotName,
            e.getMessage(),
            EVERY.toSeconds());
        reportedUnreachable = true;
      }
    }
  }

  private void closeConnection() {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException e) {
        // The connection is broken already.
      }
      connection = null;
    }
  }

  @Override
  public void close() {
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeConnection();
  }
}
