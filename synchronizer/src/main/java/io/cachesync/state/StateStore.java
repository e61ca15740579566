package io.cachesync.state;

import java.util.Map;
import java.util.Set;

/**
 * The synchronizer's own state, kept in Redis under {@code cachesync:<name>:} next to the data it
 * describes: Debezium's offsets and the tables already loaded. Kept beside the data on purpose: if
 * the dataset is lost, the state is lost with it, and the synchronizer reloads instead of resuming
 * as if nothing happened.
 */
public interface StateStore extends AutoCloseable {

  /** Debezium's offsets, as opaque strings. */
  Map<String, String> offsets();

  /**
   * The epoch of the stored state: a random id written when the state is (re)created, so that a
   * daemon can tell that the dataset it was writing to is gone (flushed, restarted empty, failed
   * over to an empty replica) or was reset by another daemon. Empty when Redis holds no state.
   */
  java.util.Optional<String> epoch();

  /** Gives state written without an epoch (by an earlier version) this one; a no-op otherwise. */
  void adoptEpoch(String epoch);

  /**
   * Saves the offsets only if the stored epoch is still {@code epoch} and Redis holds the stream at
   * least up to {@code acknowledged}: offsets written into a lost dataset, or into one a failover
   * rolled back, would make the next start resume past changes Redis no longer holds.
   *
   * @param acknowledged the furthest position Redis acknowledged to this daemon ({@link
   *     io.cachesync.model.Version#ZERO} when none yet)
   * @return false when the epoch no longer matches or Redis holds less; nothing is written then
   * @throws RuntimeException when they could not be saved (Redis unreachable, or fewer replicas
   *     than {@code redis.waitReplicas} acknowledged them): the slot must not be confirmed
   */
  boolean saveOffsets(
      String epoch, io.cachesync.model.Version acknowledged, Map<String, String> offsets);

  /** The tables whose existing rows were loaded (schema.table). */
  Set<String> loadedTables();

  void markLoaded(Set<String> tables);

  /**
   * Queues a resync for the daemon and records it as queued, acknowledged by {@code
   * redis.waitReplicas} replicas.
   */
  default void submitResync(String id, Set<String> tables) {
    submitResync(id, tables, "");
  }

  /**
   * Queues a resync that writes only the keys of some Redis Cluster hash slots (the repair of a
   * master that lost writes), and records it as queued.
   *
   * @param slots the slots as ranges ({@code 0-5460,6000}); empty for every key
   */
  void submitResync(String id, Set<String> tables, String slots);

  /**
   * The next queued resync, moved from the queue to the list of requests taken, if {@code owner}
   * holds the writer's lease (checked in the same step): it stays there until {@link #finishResync}
   * records it done, so that a daemon that dies before then leaves it for the next one (see {@link
   * #requeueTakenResyncs()}).
   *
   * @return empty when the queue is empty or {@code owner} does not hold the writer's role
   */
  java.util.Optional<Map.Entry<String, Set<String>>> takeResync(String owner);

  /** Puts a request taken but not handed to a load back at the head of the queue. */
  void returnResync(String id);

  /**
   * Puts the requests taken but not finished (by a daemon that stopped or died meanwhile) back at
   * the head of the queue, in the order they were taken. Called by a daemon once it is sure to be
   * the writer (it holds the lease and the slot is free), before it takes any request.
   *
   * @return how many were put back
   */
  long requeueTakenResyncs();

  /** Records a resync done with the rows it loaded, and forgets it among the requests taken. */
  void finishResync(String id, Map<String, Long> rowsLoaded);

  /**
   * Takes the writer's role of this synchronizer name, or keeps it: a lease that expires {@code
   * ttl} after this call unless renewed by calling this again.
   *
   * @param owner identifies this daemon (host, pid and a random part)
   * @return true when {@code owner} holds the role until {@code ttl} from now; false when another
   *     owner does
   */
  boolean holdWriter(String owner, java.time.Duration ttl);

  /**
   * Takes the writer's role over from {@code deadOwner}, a holder known to be dead, if it still
   * holds it; as {@link #holdWriter} otherwise.
   */
  boolean takeOverWriter(String deadOwner, String owner, java.time.Duration ttl);

  /** Who holds the writer's role now, if anyone. */
  java.util.Optional<String> writer();

  /** Gives up the writer's role if {@code owner} holds it, so that a standby takes over at once. */
  void releaseWriter(String owner);

  /**
   * Records how a resync goes: {@code status} (queued, running, done) and the rows loaded per
   * table.
   */
  void resyncStatus(String id, String status, Map<String, Long> rowsLoaded);

  /** What {@link #resyncStatus} recorded: {@code status} and {@code rows:<table>} fields. */
  Map<String, String> resync(String id);

  /** The version stored with the last applied batch: how far the synchronizer has applied. */
  java.util.Optional<io.cachesync.model.Version> position();

  /**
   * The WAL position up to which every transaction is wholly in Redis (the position hash's {@code
   * applied}, the read-your-writes bound): the last batch's {@code Version.applied()}, held back
   * while a TRUNCATE's evictions run; empty while the cache is loaded.
   */
  java.util.Optional<Long> applied();

  /**
   * Forgets Debezium's offsets, keeping the epoch and all else: Debezium then resumes from the
   * replication slot's confirmed position. For a Redis Cluster whose master holds less of the
   * stream than the offsets (it lost writes after the offsets were saved on another master).
   */
  void forgetOffsets();

  /**
   * Forgets the offsets, loaded tables and position, and starts the state afresh at {@code epoch}:
   * until offsets are saved under it, the next start reloads everything.
   *
   * @param sweep whether keys of rows deleted meanwhile may remain (a reload, not a first start):
   *     recorded with the reset, so that a sweep runs once the load is done, whichever daemon gets
   *     there (see {@link #sweepNeeded()})
   */
  void reset(String epoch, boolean sweep);

  /**
   * Whether keys of deleted rows may remain after a reload and a sweep must remove them: recorded
   * by {@link #reset}, cleared by {@link #sweepDone()}.
   */
  boolean sweepNeeded();

  /**
   * Records that a sweep finished. Called only once Redis acknowledged the sweep's deletes, so that
   * a failover to a replica that lost any of them loses this too, and the sweep runs again.
   */
  void sweepDone();

  @Override
  void close();
}
