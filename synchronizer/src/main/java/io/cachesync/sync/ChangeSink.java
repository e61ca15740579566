package io.cachesync.sync;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.Version;
import java.util.List;

/** Receives decoded changes from the source, one batch at a time, in stream order. */
public interface ChangeSink {

  /**
   * Applies a batch and returns once Redis acknowledged it; only then may the source commit its
   * position.
   *
   * @param position the version of the batch's last record
   * @throws InterruptedException when the synchronizer stops before the batch could be applied; the
   *     source must then not commit the batch
   */
  void accept(List<ChangeEvent> batch, Version position) throws InterruptedException;

  /**
   * The furthest position Redis acknowledged so far ({@link Version#ZERO} when none): the offsets
   * the source saves describe batches up to it, and must not be saved into a Redis that holds less.
   */
  Version acknowledged();

  /**
   * The keys the last batch left missing although a change of it wrote them (an unchanged TOAST
   * column with no cached value to keep, a value Redis refused): a load's chunk must not leave them
   * to the stream.
   */
  default java.util.Set<String> missedKeys() {
    return java.util.Set.of();
  }
}
