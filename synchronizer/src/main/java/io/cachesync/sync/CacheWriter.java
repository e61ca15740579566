package io.cachesync.sync;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.Version;
import java.util.List;
import java.util.Optional;

/** Applies planned cache operations to Redis; implemented by the Redis adapter. */
public interface CacheWriter extends AutoCloseable {

  /**
   * Applies {@code operations} in order and stores {@code position} with them, so that Redis always
   * knows up to where the stream was applied. Returns once Redis acknowledged every write (and the
   * configured number of replicas did).
   *
   * @param acknowledged the position Redis acknowledged before this batch ({@link Version#ZERO}
   *     when none): Redis holding less shows it lost acknowledged batches
   * @throws RedisUnavailableException when Redis cannot take the batch now; nothing of it may be
   *     assumed applied, and applying it again is safe (every write is versioned)
   * @throws CacheRolledBackException when Redis holds less than {@code acknowledged}
   */
  BatchOutcome apply(List<CacheOperation> operations, Version position, Version acknowledged);

  /** The position stored with the last applied batch; empty when Redis has none. */
  Optional<Version> position();

  @Override
  void close();
}
