package io.cachesync.load;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangePlanner;
import io.cachesync.model.Mapping;
import io.cachesync.model.TableId;
import io.cachesync.model.Version;
import io.cachesync.redis.BulkLoadWriter;
import io.cachesync.source.ChunkRowWriter;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.sync.Synchronizer;
import io.cachesync.sync.WriterRoleLostException;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a resync chunk's rows through the bulk script of the initial load ({@link
 * BulkLoadWriter}): pipelined calls without a per-key version read, then the high watermark's
 * position through the stream's writer, whose WAIT covers the rows.
 *
 * <p>Why no version guard is needed. The rows are written while the stream waits at the high
 * watermark, and every version Redis holds was written by this stream before that point (or by the
 * initial load or an earlier daemon, below the position this daemon resumed from; a daemon that
 * lost its role is fenced by the script's lease check). So each row's version, the high
 * watermark's, is above what its key holds, and a guarded write would write it anyway; a change
 * after the watermark is applied only once these rows are acknowledged.
 *
 * <p>The rows go without WAIT: a failover while they are written may lose some the old master took.
 * The master's replication id is compared before and after; when it changed, the chunk is read
 * again.
 */
public final class BulkChunkWriter implements ChunkRowWriter, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BulkChunkWriter.class);

  private final SynchronizerSettings settings;
  private final String leaseOwner;
  private final String epoch;
  private final long maxValueBytes;
  private final ChangePlanner planner;
  private final Synchronizer synchronizer;
  private final Consumer<String> roleLost;
  private final Consumer<String> stateLost;
  private final BiConsumer<TableId, Long> rowsLoaded;
  private volatile BulkLoadWriter bulk;
  private BulkLoadWriter.Lane lane;
  private BulkLoadWriter.Counts before = new BulkLoadWriter.Counts(0, 0, List.of());
  private volatile boolean closed;

  /**
   * @param roleLost told when another daemon holds the writer's role
   * @param stateLost told when the state this daemon writes under is gone
   * @param rowsLoaded told of the rows of each chunk written (the load metrics)
   */
  public BulkChunkWriter(
      SynchronizerSettings settings,
      String leaseOwner,
      String epoch,
      long maxValueBytes,
      Mapping mapping,
      Synchronizer synchronizer,
      Consumer<String> roleLost,
      Consumer<String> stateLost,
      BiConsumer<TableId, Long> rowsLoaded) {
    this.rowsLoaded = rowsLoaded;
    this.settings = settings;
    this.leaseOwner = leaseOwner;
    this.epoch = epoch;
    this.maxValueBytes = maxValueBytes;
    this.planner = new ChangePlanner(mapping);
    this.synchronizer = synchronizer;
    this.roleLost = roleLost;
    this.stateLost = stateLost;
  }

  @Override
  public void write(List<ChangeEvent> rows, Version position)
      throws InterruptedException, ChunkLostException {
    try {
      BulkLoadWriter.Lane writing = lane();
      String master = bulk.replicationId();
      long refused = 0;
      for (ChangeEvent row : rows) {
        for (CacheOperation operation : planner.plan(row)) {
          if (operation instanceof CacheOperation.Reject reject) {
            refused++;
            LOG.warn("Cannot cache a row of {}: {}", reject.table(), reject.reason());
          } else {
            writing.add(operation);
          }
        }
      }
      BulkLoadWriter.Counts counts = writing.drain();
      List<String> failures =
          counts.failures().subList(before.failures().size(), counts.failures().size());
      failures.forEach(failure -> LOG.warn("Resync: {}", failure));
      synchronizer.countLoad(
          rows.size(),
          counts.written() - before.written(),
          counts.evicted() - before.evicted(),
          refused + failures.size());
      before = counts;
      if (!rows.isEmpty()) {
        rowsLoaded.accept(rows.get(0).table(), (long) rows.size());
      }
      synchronizer.accept(List.of(), position);
      if (synchronizer.acknowledged().compareTo(position) < 0) {
        throw new InterruptedException("stopped before Redis stored the chunk's position");
      }
      String masterNow = bulk.replicationId();
      if (!master.equals(masterNow)) {
        throw new ChunkLostException(
            "Redis's master changed while the chunk's rows were written (replication id "
                + master
                + " -> "
                + masterNow
                + "): rows the old master took may be lost");
      }
    } catch (WriterRoleLostException e) {
      roleLost.accept(e.getMessage());
      throw new InterruptedException("Lost the writer's role: " + e.getMessage());
    } catch (BulkLoadWriter.StateLostException e) {
      stateLost.accept(e.getMessage());
      throw new InterruptedException("Redis lost the state: " + e.getMessage());
    } catch (RedisUnavailableException e) {
      if (closed) {
        throw new InterruptedException("stopping before Redis took the chunk");
      }
      throw new ChunkLostException("Redis could not take the chunk's rows: " + e.getMessage());
    } catch (ServerUnreachableException e) {
      throw new ChunkLostException("Redis is unreachable: " + e.getMessage());
    } catch (io.lettuce.core.RedisException e) {
      // The replication id could not be read: the connection broke.
      closeQuietly();
      throw new ChunkLostException("Redis failed while the chunk was written: " + e.getMessage());
    }
  }

  private BulkLoadWriter.Lane lane() throws ServerUnreachableException {
    if (lane == null) {
      bulk =
          BulkLoadWriter.connect(
              settings.redis(),
              settings.stateKeyPrefix(),
              settings.shardKeyPrefix(),
              leaseOwner,
              epoch,
              maxValueBytes);
      lane = bulk.lane();
      before = new BulkLoadWriter.Counts(0, 0, List.of());
    }
    return lane;
  }

  private void closeQuietly() {
    if (lane != null) {
      lane.close();
      lane = null;
    }
    if (bulk != null) {
      bulk.close();
      bulk = null;
    }
  }

  /** Makes a write waiting for Redis give up (the daemon stops). */
  public void stop() {
    closed = true;
    BulkLoadWriter writer = bulk;
    if (writer != null) {
      writer.stop();
    }
  }

  /** Lets go of the connections, once the stream stopped. */
  @Override
  public void close() {
    stop();
    closeQuietly();
  }
}
