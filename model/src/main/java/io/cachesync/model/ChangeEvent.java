package io.cachesync.model;

import static java.util.Objects.requireNonNull;

/**
 * One committed change to one table, decoded from the WAL.
 *
 * @param before the row before the change: its replica identity columns for UPDATE and DELETE
 *     (every column under REPLICA IDENTITY FULL); empty for inserts, snapshot rows and TRUNCATE
 * @param after the row after the change; empty for DELETE and TRUNCATE
 */
public record ChangeEvent(TableId table, Kind kind, Row before, Row after, Version version) {

  /** What happened. */
  public enum Kind {
    /** A row of the initial load. */
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
}
