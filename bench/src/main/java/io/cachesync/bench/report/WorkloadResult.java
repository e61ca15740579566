package io.cachesync.bench.report;

import io.cachesync.bench.measure.Drain;
import io.cachesync.bench.measure.LagResult;
import io.cachesync.bench.measure.Memory;
import java.util.List;

/**
 * Everything measured on one workload.
 *
 * @param postgresOnly the PostgreSQL reference: {@code pg_recvlogical} for a stream, {@code COPY TO
 *     STDOUT} for a resync
 * @param naivePartial whether the naive synchronizer's rate comes from the part of the workload it
 *     wrote within its time budget
 * @param cachesyncMemory the daemon's process while it drained the workload (W6: the resync job's,
 *     whole run)
 * @param debeziumAloneMemory the Debezium-alone process's, likewise (W6: whole run)
 */
public record WorkloadResult(
    String id,
    String title,
    long changes,
    Drain cachesync,
    Drain postgresOnly,
    Drain debeziumAlone,
    Drain naive,
    boolean naivePartial,
    Memory cachesyncMemory,
    Memory debeziumAloneMemory,
    List<LagResult> lags,
    List<String> notes) {

  public WorkloadResult {
    lags = List.copyOf(lags);
    notes = List.copyOf(notes);
  }
}
