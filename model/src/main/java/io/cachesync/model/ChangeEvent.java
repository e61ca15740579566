package io.cachesync.model;

import static java.util.Objects.requireNonNull;

/**
 * One committed change to one table, decoded from the WAL.
 *
 * @param before the row before the change: its replica identity columns for UPDATE and DELETE
 *     (every column under REPLICA IDENTITY FULL); empty for inserts, snapshot rows and TRUNCATE
 * @param after the row after the change; empty for DELETE and TRUNCATE
 * @param committedAtMillis when PostgreSQL committed the change's transaction (epoch milliseconds),
 *     for the commit-to-Redis latency; 0 when unknown
 */
public record ChangeEvent(
    TableId table, Kind kind, Row before, Row after, Version version, long committedAtMillis) {

  /** What happened. */
  public enum Kind {
    /** A row of a load (the initial load, a resync, a newly mapped table). */
    SNAPSHOT,
    INSERT,
    UPDATE,
    DELETE,
    TRUNCATE
  }

  public ChangeEvent {
    requireNonNull(table, "table");
    requireNonNull(kind, "kind");
    requireNonNull(before, "before");
    requireNonNull(after, "after");
    requireNonNull(version, "version");
  }

  /** A change whose commit time is unknown. */
  public ChangeEvent(TableId table, Kind kind, Row before, Row after, Version version) {
    this(table, kind, before, after, version, 0);
  }
}
