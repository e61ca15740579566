package io.cachesync.bench.report;

import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.LagResult;
import io.cachesync.bench.measure.Memory;
import java.util.List;
import java.util.Optional;

/**
 * Everything measured on one workload.
 *
 * @param postgresOnly the PostgreSQL reference: {@code pg_recvlogical} for a stream, {@code COPY TO
 *     STDOUT} for a load (W6, W7)
 * @param debeziumAlone empty where not measured (W7)
 * @param naive empty where not measured (W7)
 * @param naivePartial whether the naive synchronizer's rate comes from the part of the workload it
 *     wrote within its time budget
 * @param cachesyncMemory the daemon's process while it drained the workload (W6: the resync job's,
 *     whole run)
 * @param debeziumAloneMemory the Debezium-alone process's, likewise (W6: whole run)
 * @param cpu the CPU time of each process over the drains
 * @param warm the warm catch-up, where measured
 */
public record WorkloadResult(
    String id,
    String title,
    long changes,
    Drain cachesync,
    Drain postgresOnly,
    Optional<Drain> debeziumAlone,
    Optional<Drain> naive,
    boolean naivePartial,
    Memory cachesyncMemory,
    Memory debeziumAloneMemory,
    ProcessCosts cpu,
    Optional<WarmDrain> warm,
    List<LagResult> lags,
    List<String> notes) {

  public WorkloadResult {
    lags = List.copyOf(lags);
    notes = List.copyOf(notes);
  }
}
