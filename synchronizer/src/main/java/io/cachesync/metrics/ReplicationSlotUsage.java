package io.cachesync.metrics;

/**
 * The replication slot as PostgreSQL last reported it.
 *
 * @param walLsn {@code pg_current_wal_lsn()}
 * @param restartLsn the oldest WAL the slot keeps; 0 when there is no slot
 * @param confirmedLsn the slot's {@code confirmed_flush_lsn}; 0 when there is no slot
 * @param active whether a process streams from it
 */
public record ReplicationSlotUsage(
    long walLsn, long restartLsn, long confirmedLsn, boolean active) {
  /** Bytes of WAL the slot keeps; 0 without a slot. */
  public long retainedBytes() {
    return restartLsn == 0 ? 0 : Math.max(0, walLsn - restartLsn);
  }
}
