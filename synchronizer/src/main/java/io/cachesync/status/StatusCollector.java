package io.cachesync.status;

import io.cachesync.ServerUnreachableException;
import io.cachesync.StartDecision.StoredOffsets;
import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.RedisOffsetBackingStore;
import io.cachesync.source.ReplicationSlots;
import io.cachesync.source.ReplicationSlots.WalView;
import io.cachesync.status.StatusFacts.Reading;
import io.cachesync.status.StatusFacts.RedisFacts;
import io.cachesync.status.StatusFacts.StoredPosition;
import io.cachesync.status.StatusFacts.Writer;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads, without changing anything, what {@code cachesync status} shows: the replication slot from
 * PostgreSQL, then the synchronizer's state and the tables' keys from Redis. A server that cannot
 * be read leaves its part empty, with the reason, and the other is still read.
 */
public final class StatusCollector {
  /** Shorter than the daemon's: an operator waits for the answer. */
  static final PostgresConnector.Timeouts TIMEOUTS =
      new PostgresConnector.Timeouts(
          Duration.ofSeconds(3), Duration.ofSeconds(5), Duration.ofSeconds(10));

  private final Configuration configuration;

  public StatusCollector(Configuration configuration) {
    this.configuration = configuration;
  }

  /**
   * Reads both servers. PostgreSQL is read first: the stored offsets, read after the slot, are then
   * at least as far as what the slot had confirmed.
   *
   * @throws SQLException when PostgreSQL answered but refused the login, the database or a right (a
   *     configuration error, not an outage)
   */
  public StatusFacts collect() throws SQLException {
    SynchronizerSettings settings = configuration.settings();
    Reading<WalView> postgres = readPostgres(settings);
    Reading<RedisFacts> redis = readRedis(settings);
    return new StatusFacts(
        settings.name(),
        settings.slotName(),
        settings.postgres().address(),
        settings.redis().redactedUri(),
        configuration.mapping().tables().stream().map(t -> t.table().toString()).toList(),
        postgres,
        redis);
  }

  private static Reading<WalView> readPostgres(SynchronizerSettings settings) throws SQLException {
    try {
      return Reading.of(
          new ReplicationSlots(new PostgresConnector(settings.postgres(), TIMEOUTS))
              .view(settings.slotName()));
    } catch (ServerUnreachableException e) {
      return Reading.failed(e.getMessage());
    } catch (SQLException e) {
      if (PostgresConnector.unavailable(e)) {
        return Reading.failed("it cannot serve now: " + e.getMessage());
      }
      throw e;
    }
  }

  private Reading<RedisFacts> readRedis(SynchronizerSettings settings) {
    try (LettuceCacheInspector inspector = LettuceCacheInspector.connect(settings.redis());
        LettuceStateStore state =
            LettuceStateStore.connect(settings.redis(), settings.stateKeyPrefix())) {
      return Reading.of(readRedis(state, inspector));
    } catch (ServerUnreachableException e) {
      return Reading.failed(redact(settings, e.getMessage()));
    } catch (RuntimeException e) {
      return Reading.failed(redact(settings, describe(e)));
    }
  }

  private RedisFacts readRedis(LettuceStateStore state, LettuceCacheInspector inspector) {
    Map<String, String> offsets = state.offsets();
    Optional<StoredOffsets> stored =
        offsets.isEmpty()
            ? Optional.empty()
            : Optional.of(
                new StoredOffsets(
                    RedisOffsetBackingStore.furthestLsn(offsets),
                    RedisOffsetBackingStore.initialLoadInterrupted(offsets)));
    Optional<Writer> writer = state.writer().map(holder -> new Writer(holder, state.writerTtl()));
    long keys = inspector.keyCount();
    List<TableMapping> tables = configuration.mapping().tables();
    return new RedisFacts(
        position(state.positionFields()),
        writer,
        stored,
        state.sweepRecord(),
        state.queuedResyncs(),
        state.takenResyncs(),
        state.pendingTruncates(),
        state.loadedTables(),
        keys,
        new KeyCountEstimator(inspector).count(tables, keys));
  }

  /** The position hash read back; a field the writer does not record (yet) is left out. */
  static Optional<StoredPosition> position(Map<String, String> fields) {
    String version = fields.get("version");
    if (version == null || version.length() != Version.TEXT_LENGTH) {
      return Optional.empty();
    }
    Version parsed;
    try {
      parsed = Version.parse(version);
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    return Optional.of(
        new StoredPosition(
            parsed,
            Optional.ofNullable(fields.get("at")),
            Optional.ofNullable(fields.get("applied")).flatMap(StatusCollector::hexLsn)));
  }

  private static Optional<Long> hexLsn(String text) {
    try {
      return Optional.of(Long.parseUnsignedLong(text.strip(), 16));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** The message of {@code e} and of its innermost cause, which says what went wrong. */
  private static String describe(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    String message = String.valueOf(e.getMessage());
    return cause == e || message.contains(String.valueOf(cause.getMessage()))
        ? message
        : message + " (" + cause.getMessage() + ")";
  }

  /** No message shows the configured URI with its password. */
  private static String redact(SynchronizerSettings settings, String message) {
    return message.replace(settings.redis().uri(), settings.redis().redactedUri());
  }
}
