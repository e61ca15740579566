package io.cachesync.bench.report;

import io.cachesync.bench.measure.Drain;
import java.time.Duration;
import java.util.Optional;

/**
 * A workload's warm catch-up: a second backlog, written while the daemon and Debezium alone were
 * stopped (SIGSTOP) caught up after the first, drained by each from its resumption (SIGCONT) to the
 * backlog's marker, each alone on the machine.
 *
 * @param cachesyncCpu the daemon's JVM's CPU time over its drain
 * @param debeziumAloneCpu Debezium alone's JVM's, over its drain
 */
public record WarmDrain(
    Drain cachesync,
    Drain debeziumAlone,
    Optional<Duration> cachesyncCpu,
    Optional<Duration> debeziumAloneCpu) {}
