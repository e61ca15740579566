package io.cachesync.source;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.Version;
import java.util.List;

/**
 * Writes the rows of a load's chunk at its high watermark, before the stream goes on past it.
 * Called on the stream's thread only.
 */
public interface ChunkRowWriter {

  /**
   * Returns once Redis acknowledged the rows and stored {@code position} after them.
   *
   * @param rows load rows at {@code position}, the high watermark's version
   * @throws ChunkLostException when Redis may have lost some of the rows (a failover while they
   *     were written): the chunk is read again
   * @throws InterruptedException when the daemon stops, or lost its role or its state (the writer
   *     said so to the daemon first): the batch is not confirmed
   */
  void write(List<ChangeEvent> rows, Version position)
      throws InterruptedException, ChunkLostException;

  /** Redis may have lost rows of the chunk; it is read again. */
  final class ChunkLostException extends Exception {
    private static final long serialVersionUID = 1L;

    public ChunkLostException(String message) {
      super(message);
    }
  }
}
