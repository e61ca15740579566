package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.DisplayText;
import io.cachesync.model.Ttl;
import io.cachesync.model.ValueFormat;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.sync.WriterRoleLostException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.IntegerOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the rows of an initial load with plain commands, several transactions in flight on several
 * connections ({@link Lane}s), instead of the stream's versioned scripts.
 *
 * <p>Why plain commands are safe here. The stream's scripts compare versions so that an older write
 * never lands over a newer one. During an initial load nothing else writes the mapped keys: the
 * stream has not started (it starts from the slot's consistent point once the load is done), and no
 * other daemon writes either, because every transaction here is fenced by the writer's lease: it
 * WATCHes the lease key and reads it first, and runs only while this daemon holds it ({@link
 * WriterLeaseFence}, as the stream's batches). A daemon paused mid-load that lost the role has its
 * next transaction refused, and the one it had sent is discarded by its WATCH if the lease changed
 * hands before it ran. So each row loaded is the newest version of its key, and replaces whatever
 * Redis held: left over from a cache whose stream was lost, possibly with a higher version than the
 * new slot's (a restored or failed-over PostgreSQL), which the version guard would have wrongly
 * kept. The rows carry the snapshot's version, below every change streamed after.
 *
 * <p>Nothing here waits for replicas: the load ends by storing its position through the stream's
 * writer, whose WAIT (redis.waitReplicas) covers every write Redis received before it.
 */
public final class BulkLoadWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BulkLoadWriter.class);
  private static final Duration FIRST_RETRY = Duration.ofMillis(100);
  private static final Duration MAX_RETRY = Duration.ofSeconds(10);

  private final io.lettuce.core.RedisClient client;
  private final io.lettuce.core.RedisClient laneClient;
  private final StatefulRedisConnection<String, String> direct;
  private final WriterLeaseFence fence;
  private final String leaseKey;
  private final long maxValueBytes;
  private final CountDownLatch stopping = new CountDownLatch(1);

  private BulkLoadWriter(
      io.lettuce.core.RedisClient client,
      io.lettuce.core.RedisClient laneClient,
      StatefulRedisConnection<String, String> direct,
      String leaseKey,
      String leaseOwner,
      long maxValueBytes) {
    this.client = client;
    this.laneClient = laneClient;
    this.direct = direct;
    this.leaseKey = leaseKey;
    this.fence = new WriterLeaseFence(leaseKey, leaseOwner);
    this.maxValueBytes = maxValueBytes;
  }

  /**
   * Connects to the master, for the daemon holding the writer's lease as {@code leaseOwner}.
   *
   * @param maxValueBytes Redis's proto-max-bulk-len: a larger value is evicted, not sent
   */
  public static BulkLoadWriter connect(
      RedisSettings settings, String stateKeyPrefix, String leaseOwner, long maxValueBytes)
      throws ServerUnreachableException {
    String clientName = "cachesync-load-" + UUID.randomUUID();
    io.lettuce.core.RedisClient client = LettuceClients.reconnecting(settings, clientName);
    io.lettuce.core.RedisClient laneClient = LettuceClients.nonReconnecting(settings, clientName);
    try {
      return new BulkLoadWriter(
          client,
          laneClient,
          client.connect(),
          stateKeyPrefix + "writer",
          Boolean.getBoolean(LettuceCacheWriter.UNSAFE_NO_LEASE_FENCE) ? null : leaseOwner,
          maxValueBytes);
    } catch (RuntimeException e) {
      client.shutdown();
      laneClient.shutdown();
      if (e instanceof RedisConnectionException) {
        throw LettuceClients.connectFailed(settings, e);
      }
      throw e;
    }
  }

  /** Opens a lane: a connection of its own, with at most one transaction in flight. */
  public Lane lane() {
    return new Lane();
  }

  /** Makes lanes waiting to retry give up (the daemon stops). */
  public void stop() {
    stopping.countDown();
  }

  @Override
  public void close() {
    stop();
    direct.close();
    client.shutdown();
    laneClient.shutdown();
  }

  /** What a lane's transactions did. */
  public record Counts(long written, long evicted, List<String> failures) {}

  /**
   * One connection; each {@link #write} sends a transaction and returns while Redis runs it, after
   * waiting for the one before (retried until Redis takes it). Not thread-safe: one per reader.
   */
  public final class Lane implements AutoCloseable {
    private StatefulRedisConnection<String, String> connection;
    private List<CacheOperation> inFlight;
    private RedisFuture<TransactionResult> exec;
    private long written;
    private long evicted;
    private final List<String> failures = new ArrayList<>();

    /** What the transaction in flight does, counted once it ran. */
    private long sentWritten;

    private long sentEvicted;
    private final List<String> sentFailures = new ArrayList<>();

    private Lane() {}

    /**
     * Sends {@code operations} (evictions and writes of loaded rows) as one fenced transaction,
     * after the previous one is done.
     *
     * @throws WriterRoleLostException when another daemon holds the writer's role
     * @throws RedisUnavailableException when stopped while Redis could not take a transaction
     */
    public void write(List<CacheOperation> operations) {
      finishInFlight();
      inFlight = operations;
      exec = sendWithRetries(operations);
    }

    /** Waits until every transaction sent is done. */
    public Counts drain() {
      finishInFlight();
      return new Counts(written, evicted, List.copyOf(failures));
    }

    private void finishInFlight() {
      while (inFlight != null) {
        boolean done;
        try {
          done = applied(LettuceClients.await(exec));
        } catch (RedisUnavailableException e) {
          LOG.info(
              "A transaction of the initial load failed ({}); sending it again", e.getMessage());
          // Whatever state the connection is in (inside a MULTI, a WATCH held), a new one starts
          // clean. Sending the rows again is harmless: they are the same rows.
          dropConnection();
          done = false;
        }
        if (done) {
          written += sentWritten;
          evicted += sentEvicted;
          failures.addAll(sentFailures);
          inFlight = null;
          exec = null;
        } else {
          exec = sendWithRetries(inFlight);
        }
      }
    }

    /**
     * Whether the transaction ran; false when its WATCH discarded it and this daemon still holds
     * the lease (its own renewal touched the key), so it is sent again.
     */
    private boolean applied(TransactionResult result) {
      if (!result.wasDiscarded()) {
        return true;
      }
      if (fence.renewedMeanwhile(direct.sync())) {
        return false;
      }
      // Another owner, or none: held() throws for the former and takes the lease again for the
      // latter (it expired during an outage), then the transaction is sent again.
      fence.held(direct.sync().get(leaseKey), direct.sync());
      return false;
    }

    private RedisFuture<TransactionResult> sendWithRetries(List<CacheOperation> operations) {
      Duration delay = FIRST_RETRY;
      while (true) {
        try {
          return send(operations);
        } catch (RedisUnavailableException | RedisConnectionException e) {
          dropConnection();
          LOG.warn(
              "Redis did not take the initial load's rows ({}); trying again in {} ms",
              e.getMessage(),
              delay.toMillis());
          try {
            // A stop ends the wait at once; otherwise it is the backoff's pace.
            if (stopping.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
              throw new RedisUnavailableException("the daemon is stopping", e);
            }
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new RedisUnavailableException("interrupted", interrupted);
          }
          delay =
              delay.multipliedBy(2).compareTo(MAX_RETRY) > 0 ? MAX_RETRY : delay.multipliedBy(2);
        }
      }
    }

    private void dropConnection() {
      if (connection != null) {
        connection.close();
        connection = null;
      }
    }

    /**
     * WATCHes and reads the lease (one round trip), then queues the MULTI, the commands and the
     * EXEC without waiting. The connection never reconnects by itself: a WATCH lives in one
     * connection, and a transaction must not run on a new one that watches nothing.
     */
    private RedisFuture<TransactionResult> send(List<CacheOperation> operations) {
      if (connection == null || !connection.isOpen()) {
        dropConnection();
        connection = laneClient.connect();
        connection.setAutoFlushCommands(false);
      }
      RedisAsyncCommands<String, String> commands = connection.async();
      if (fence.active()) {
        while (true) {
          RedisFuture<String> lease = fence.watch(commands);
          connection.flushCommands();
          if (fence.held(LettuceClients.await(lease), direct.sync())) {
            break;
          }
          // Nobody held it and it was taken again: that spoiled the WATCH; watch again.
          commands.unwatch();
        }
      }
      commands.multi();
      sentWritten = 0;
      sentEvicted = 0;
      sentFailures.clear();
      for (CacheOperation operation : operations) {
        queue(commands, operation);
      }
      RedisFuture<TransactionResult> result = commands.exec();
      connection.flushCommands();
      return result;
    }

    private void queue(RedisAsyncCommands<String, String> commands, CacheOperation operation) {
      if (operation instanceof Evict evict) {
        commands.del(evict.key());
        sentEvicted++;
        return;
      }
      Write write = (Write) operation;
      String tooLarge = BatchTransaction.tooLarge(write, maxValueBytes);
      if (tooLarge != null) {
        // Sending it would make Redis drop the connection: a cache miss instead.
        commands.del(write.key());
        sentEvicted++;
        sentFailures.add("key " + DisplayText.of(write.key()) + ": " + tooLarge + "; evicted");
        return;
      }
      sentWritten++;
      long ttl = write.ttl().map(Ttl::seconds).orElse(0L);
      if (write.format() == ValueFormat.JSON) {
        String value = JsonValueEncoder.encode(write, null).orElseThrow();
        if (ttl > 0) {
          commands.set(write.key(), value, SetArgs.Builder.ex(ttl));
        } else {
          commands.set(write.key(), value);
        }
        return;
      }
      // DEL first: the key may hold a value of an earlier cache, with fields this row lacks, or
      // another type.
      commands.del(write.key());
      CommandArgs<String, String> arguments =
          new CommandArgs<>(StringCodec.UTF8)
              .addKey(write.key())
              .add("__v")
              .add(write.version().text());
      for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
        Optional<String> text = entry.getValue().fieldText();
        if (text.isPresent()) {
          arguments.add(entry.getKey()).add(text.get());
        }
      }
      commands.dispatch(CommandType.HSET, new IntegerOutput<>(StringCodec.UTF8), arguments);
      if (ttl > 0) {
        commands.expire(write.key(), ttl);
      }
    }

    @Override
    public void close() {
      dropConnection();
    }
  }
}
