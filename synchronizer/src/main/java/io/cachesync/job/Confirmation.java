package io.cachesync.job;

import io.cachesync.job.Verifier.Drift;
import io.cachesync.job.Verifier.Offender;
import io.cachesync.model.Row;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import io.cachesync.redis.CachedValue;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceCacheReader;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * Decides whether the differences one pass of verify found are drift, a batch at a time, and counts
 * those that are. When a synchronizer runs, a difference may be a change in flight: once the
 * synchronizer has applied the WAL written before the check began, each key is looked at again with
 * its row read afresh, and only what still differs counts (a key whose row is gone is an orphan if
 * it is still there). At most {@link #BATCH} differences wait for that, so memory stays bounded
 * whatever the drift. With {@code --repair}, a key of the wrong type is deleted once confirmed.
 */
final class Confirmation implements AutoCloseable {
  private static final int BATCH = 500;

  private final TableMapping table;
  private final RowCheck rowCheck;
  private final Verifier.ConnectionSource postgres;
  private final LettuceCacheInspector redis;
  private final Optional<BooleanSupplier> settled;
  private final Verifier.Tally tally;
  private final boolean deleteWrongType;
  private final List<Offender> pending = new ArrayList<>();
  private final Map<String, String> wrongType = new LinkedHashMap<>();
  private Connection lookups;
  private LettuceCacheReader reader;

  /**
   * @param settled when a synchronizer runs, waits until it applied the WAL written before the
   *     check began (false when it did not in time: differences are then counted as found)
   */
  Confirmation(
      TableMapping table,
      RowCheck rowCheck,
      Verifier.ConnectionSource postgres,
      LettuceCacheInspector redis,
      Optional<BooleanSupplier> settled,
      Verifier.Tally tally,
      boolean deleteWrongType) {
    this.table = table;
    this.rowCheck = rowCheck;
    this.postgres = postgres;
    this.redis = redis;
    this.settled = settled;
    this.tally = tally;
    this.deleteWrongType = deleteWrongType;
  }

  void add(Offender offender) {
    if (settled.isEmpty()) {
      confirmed(offender); // no synchronizer runs: nothing is in flight
      return;
    }
    pending.add(offender);
    if (pending.size() >= BATCH) {
      confirmPending();
    }
  }

  private void confirmPending() {
    if (pending.isEmpty()) {
      return;
    }
    if (settled.get().getAsBoolean()) {
      recheck(pending).forEach(this::confirmed);
    } else {
      pending.forEach(this::confirmed);
    }
    pending.clear();
  }

  private void confirmed(Offender offender) {
    tally.add(offender);
    if (deleteWrongType && offender.drift() == Drift.WRONG_TYPE) {
      wrongType.put(offender.key(), ""); // seen without a version: deleted while it has none
      if (wrongType.size() >= BATCH) {
        deleteWrongType();
      }
    }
  }

  private void deleteWrongType() {
    if (!wrongType.isEmpty()) {
      redis.evict(wrongType);
      wrongType.clear();
    }
  }

  /** What is still wrong with each key, read fresh from both sides. */
  private List<Offender> recheck(List<Offender> offenders) {
    List<String> keys = offenders.stream().map(Offender::key).toList();
    Map<String, Row> rows = new OrphanSweeper(lookups(), redis).rows(table, keys);
    List<Offender> still = new ArrayList<>();
    List<String> rowless = keys.stream().filter(key -> !rows.containsKey(key)).toList();
    if (!rowless.isEmpty()) {
      List<String> versions = redis.versions(rowless);
      for (int i = 0; i < rowless.size(); i++) {
        if (!versions.get(i).equals("-")) {
          still.add(new Offender(rowless.get(i), Drift.ORPHAN, "no row"));
        }
      }
    }
    if (table.mode() == SyncMode.EVICT) {
      return still; // a key whose row exists is the application's
    }
    List<RowCheck.Expectation> writes = new ArrayList<>();
    for (String key : keys) {
      Row row = rows.get(key);
      RowCheck.Expectation expected = row == null ? null : rowCheck.expectation(table, row);
      if (expected == null) {
        continue;
      }
      if (expected.write() == null) {
        rowCheck.compareAbsent(expected).ifPresent(still::add);
      } else {
        writes.add(expected);
      }
    }
    if (!writes.isEmpty()) {
      List<CachedValue> values =
          reader()
              .send(
                  writes.stream().map(RowCheck.Expectation::key).toList(),
                  table.format() == ValueFormat.HASH)
              .values();
      for (int i = 0; i < writes.size(); i++) {
        rowCheck.compare(writes.get(i).write(), values.get(i)).ifPresent(still::add);
      }
    }
    return still;
  }

  private Connection lookups() {
    if (lookups == null) {
      try {
        lookups = postgres.open();
      } catch (SQLException e) {
        throw new IllegalStateException("cannot connect to PostgreSQL: " + e.getMessage(), e);
      }
    }
    return lookups;
  }

  private LettuceCacheReader reader() {
    if (reader == null) {
      reader = redis.openReader();
    }
    return reader;
  }

  /** Decides on the differences still waiting, then closes what it opened. */
  @Override
  public void close() {
    try {
      confirmPending();
      deleteWrongType();
    } finally {
      if (reader != null) {
        reader.close();
      }
      if (lookups != null) {
        try {
          lookups.close();
        } catch (SQLException e) {
          // closing a connection of a finished check: nothing is lost
        }
      }
    }
  }
}
