package io.cachesync.redis;

import io.cachesync.state.WriterLease;
import io.cachesync.sync.WriterRoleLostException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.Objects;

/**
 * Fences the writer's writes by the writer's lease ({@link WriterLease}): a daemon paused (a GC, a
 * SIGSTOP) or cut off past the lease's time to live resumes with a batch, or a background eviction,
 * in hand while a standby holds the role. Each batch WATCHes and reads the lease key with what it
 * reads before its MULTI and is refused when another owner holds it; each background eviction page
 * reads it first. A lease that is gone (it expired during an outage while this daemon kept the
 * slot, or Redis lost it) is taken again with SET NX, as the renewal would.
 */
final class WriterLeaseFence {
  private final String leaseKey;
  private final String owner;

  /**
   * @param owner the lease owner this writer writes for; null for a writer no lease guards (tools
   *     and tests that run without a daemon)
   */
  WriterLeaseFence(String leaseKey, String owner) {
    this.leaseKey = Objects.requireNonNull(leaseKey);
    this.owner = owner;
  }

  /** Whether this writer writes under a lease at all. */
  boolean active() {
    return owner != null;
  }

  /** Queues, on the batch's connection, the WATCH and the read of the lease key. */
  RedisFuture<String> watch(RedisAsyncCommands<String, String> commands) {
    commands.watch(leaseKey);
    return commands.get(leaseKey);
  }

  /**
   * Judges what {@link #watch} read.
   *
   * @return true when this writer holds the lease; false when nobody does and it was taken again
   *     (the WATCH is then spoiled: read again)
   * @throws WriterRoleLostException when another owner holds it
   */
  boolean held(String holder, RedisCommands<String, String> direct) {
    if (owner.equals(holder)) {
      return true;
    }
    if (holder != null) {
      throw new WriterRoleLostException(leaseKey, holder);
    }
    retake(direct);
    return false;
  }

  /**
   * Checks the lease before a write outside the batches (a background eviction page).
   *
   * @throws WriterRoleLostException when another owner holds it
   */
  void require(RedisCommands<String, String> direct) {
    if (active()) {
      held(direct.get(leaseKey), direct);
    }
  }

  /**
   * Whether a discarded EXEC may be due to this daemon's own renewal of the lease (it sets the
   * WATCHed key every {@link WriterLease#RENEW_EVERY}): it still holds it.
   */
  boolean renewedMeanwhile(RedisCommands<String, String> direct) {
    return active() && owner.equals(direct.get(leaseKey));
  }

  private void retake(RedisCommands<String, String> direct) {
    String set = direct.set(leaseKey, owner, SetArgs.Builder.nx().px(WriterLease.TTL.toMillis()));
    if (!"OK".equals(set)) {
      throw new WriterRoleLostException(leaseKey, String.valueOf(direct.get(leaseKey)));
    }
  }
}
