package io.cachesync.bench.report;

import java.time.Duration;
import java.util.Optional;

/**
 * The CPU time (user + system, from {@code /proc/<pid>/stat}) each process used while cachesync or
 * Debezium alone drained one workload; empty where it was not measured or does not apply.
 *
 * @param cachesync cachesync's JVM: the daemon's (W6: the resync job's, whole run)
 * @param cachesyncWalSender the WAL sender streaming the daemon's slot, over the daemon's drain
 * @param redis redis-server, over cachesync's drain
 * @param debeziumAlone Debezium alone's JVM, over its drain
 * @param debeziumAloneWalSender the WAL sender streaming Debezium alone's slot, over its drain
 */
public record ProcessCosts(
    Optional<Duration> cachesync,
    Optional<Duration> cachesyncWalSender,
    Optional<Duration> redis,
    Optional<Duration> debeziumAlone,
    Optional<Duration> debeziumAloneWalSender) {
  public static final ProcessCosts NONE =
      new ProcessCosts(
          Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
}
