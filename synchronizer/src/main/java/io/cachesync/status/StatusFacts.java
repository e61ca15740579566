package io.cachesync.status;

import static java.util.Objects.requireNonNull;

import io.cachesync.StartDecision.StoredOffsets;
import io.cachesync.model.Version;
import io.cachesync.source.ReplicationSlots.WalView;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code cachesync status} found in PostgreSQL and Redis, read once; {@link StatusVerdict}
 * judges it. Each server's part is empty when that server could not be read, with the reason.
 *
 * @param name the synchronizer's name
 * @param slotName its replication slot
 * @param postgresAddress {@code host:port/database}
 * @param redisAddress the Redis URI without its password
 * @param mappedTables the tables of the mapping (schema.table), in mapping order
 */
public record StatusFacts(
    String name,
    String slotName,
    String postgresAddress,
    String redisAddress,
    List<String> mappedTables,
    Reading<WalView> postgres,
    Reading<RedisFacts> redis) {

  public StatusFacts {
    requireNonNull(name, "name");
    requireNonNull(slotName, "slotName");
    requireNonNull(postgresAddress, "postgresAddress");
    requireNonNull(redisAddress, "redisAddress");
    mappedTables = List.copyOf(mappedTables);
    requireNonNull(postgres, "postgres");
    requireNonNull(redis, "redis");
  }

  /** What one server said, or why it said nothing. */
  public record Reading<T>(Optional<T> value, Optional<String> error) {
    public Reading {
      requireNonNull(value, "value");
      requireNonNull(error, "error");
      if (value.isPresent() == error.isPresent()) {
        throw new IllegalArgumentException("a reading has either a value or an error");
      }
    }

    public static <T> Reading<T> of(T value) {
      return new Reading<>(Optional.of(value), Optional.empty());
    }

    public static <T> Reading<T> failed(String error) {
      return new Reading<>(Optional.empty(), Optional.of(error));
    }
  }

  /**
   * The synchronizer's state in Redis.
   *
   * @param position the position stored with the last batch applied; empty when none is stored
   * @param writer who holds the writer's role; empty when no daemon does
   * @param offsets what Debezium's stored offsets point to; empty when none are stored
   * @param sweep what a reload recorded about the orphan sweep it still needs; empty when none
   * @param resyncQueued resync requests waiting for a daemon
   * @param resyncTaken resync requests a daemon took and has not finished
   * @param truncates tables whose TRUNCATE evictions are not done yet
   * @param loadedTables tables whose rows were loaded
   * @param keys the keys in the database (DBSIZE)
   * @param tables per mapped table, its keys
   */
  public record RedisFacts(
      Optional<StoredPosition> position,
      Optional<Writer> writer,
      Optional<StoredOffsets> offsets,
      Optional<String> sweep,
      long resyncQueued,
      long resyncTaken,
      Set<String> truncates,
      Set<String> loadedTables,
      long keys,
      List<TableKeys> tables) {
    public RedisFacts {
      requireNonNull(position, "position");
      requireNonNull(writer, "writer");
      requireNonNull(offsets, "offsets");
      requireNonNull(sweep, "sweep");
      truncates = Set.copyOf(truncates);
      loadedTables = Set.copyOf(loadedTables);
      tables = List.copyOf(tables);
    }
  }

  /**
   * The {@code position} hash.
   *
   * @param at when it was stored (ISO-8601), as the writer recorded it
   * @param applied the {@code applied} field (an LSN, 16 hex digits) when the writer records one
   */
  public record StoredPosition(Version version, Optional<String> at, Optional<Long> applied) {
    public StoredPosition {
      requireNonNull(version, "version");
      requireNonNull(at, "at");
      requireNonNull(applied, "applied");
    }

    /** The furthest WAL position this names: a load's snapshot LSN, or the change's own LSN. */
    public long furthestLsn() {
      long furthest = Math.max(version.commit(), version.lsn());
      return Math.max(furthest, applied.orElse(0L));
    }
  }

  /**
   * The writer's lease.
   *
   * @param ttl how long it lives unless renewed; empty when it has no expiry
   */
  public record Writer(String holder, Optional<Duration> ttl) {
    public Writer {
      requireNonNull(holder, "holder");
      requireNonNull(ttl, "ttl");
    }
  }

  /** How a table's key count was found. */
  public enum Estimate {
    /** Every key under the table's prefix was counted (SCAN). */
    EXACT,
    /** Random keys were matched against the table's key template, scaled by DBSIZE. */
    SAMPLED;

    public String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * A mapped table's keys in Redis.
   *
   * @param keyPattern the mapping's key template
   * @param sampled how many random keys the estimate is drawn from (0 when exact)
   */
  public record TableKeys(
      String table, String keyPattern, long keys, Estimate estimate, int sampled) {
    public TableKeys {
      requireNonNull(table, "table");
      requireNonNull(keyPattern, "keyPattern");
      requireNonNull(estimate, "estimate");
    }
  }
}
