package io.cachesync.sync;

/**
 * Another daemon of the same name holds the writer's lease now: this one was paused or cut off past
 * the lease's time to live, and a standby took the role over. The batch is refused before Redis
 * applies any of it; retrying cannot help, the daemon must stop writing.
 */
public final class WriterRoleLostException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public WriterRoleLostException(String leaseKey, String holder) {
    super(
        "the writer's lease "
            + leaseKey
            + " is held by "
            + holder
            + " now (this daemon was paused or cut off past the lease's time to live and another"
            + " took the role over): Redis applied nothing of the batch");
  }
}
