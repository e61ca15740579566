package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.DisplayText;
import io.cachesync.model.Ttl;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.sync.WriterRoleLostException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.IntegerOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the rows of an initial load through bulk_load.lua: many rows per call, several calls in
 * flight on each of several connections ({@link Lane}s), each row written with plain commands
 * instead of the stream's version-guarded scripts.
 *
 * <p>Why unguarded writes are safe here. The stream's scripts compare versions so that an older
 * write never lands over a newer one. During an initial load nothing else writes the mapped keys:
 * the stream has not started (it starts from the slot's consistent point once the load is done),
 * and no other daemon writes either. Each call checks first, in the same script and so atomically
 * with its writes, that the state is still the one this daemon created for the load (its epoch) and
 * that this daemon holds the writer's lease ({@link WriterLeaseFence}). A daemon that took over
 * from this one while it was paused found no finished load, so it reset the state before loading
 * for itself; the epoch then differs, and every later call of the paused daemon is refused, even
 * after its lease renewal took back a lease nobody held. So each row loaded is the newest version
 * of its key, and replaces whatever Redis held: left over from a cache whose stream was lost,
 * possibly with a higher version than the new slot's (a restored or failed-over PostgreSQL), which
 * the version guard would have wrongly kept. The rows carry the snapshot's version, below every
 * change streamed after.
 *
 * <p>Why a script and not MULTI with plain commands: the script checks the fence without a WATCH
 * and its round trip, and Redis receives one packed argument per call instead of a command per row;
 * on a 2-core machine Lettuce's cost per command in a MULTI (four replies per row decoded, a future
 * each) was more than Redis's own.
 *
 * <p>On a Redis Cluster each lane writes through a cluster writer of its own ({@link
 * ClusterCacheWriter#load}): each master's part of a batch of rows in one transaction of the
 * stream's version-guarded load scripts, fenced by the lease owner each shard key names (see {@link
 * ClusterCacheWriter}), with that shard's position. Guarded, where one master's load is not: a key
 * an earlier cache left with a version above the load's keeps it (a restored PostgreSQL whose LSNs
 * went back), and the sweep after a reload or `cachesync verify --repair` mends it.
 *
 * <p>Nothing here waits for replicas: the load ends by storing its position through the stream's
 * writer, whose WAIT (redis.waitReplicas) covers every write Redis received before it; a failover
 * during the load is noticed by the master's replication id (see the daemon).
 */
public final class BulkLoadWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BulkLoadWriter.class);
  private static final Duration FIRST_RETRY = Duration.ofMillis(100);
  private static final Duration MAX_RETRY = Duration.ofSeconds(10);

  private final io.lettuce.core.RedisClient client;
  private final io.lettuce.core.RedisClient laneClient;
  private final StatefulRedisConnection<String, String> direct;

  /** On a Redis Cluster, what the cluster lanes connect with; null on one master. */
  private final ClusterLanes cluster;

  /** What a cluster lane needs to connect its writer, and the writer the load's own reads use. */
  private record ClusterLanes(
      RedisSettings settings,
      String stateKeyPrefix,
      String shardKeyPrefix,
      ClusterCacheWriter writer) {}

  private final String leaseKey;
  private final String owner;
  private final String offsetsKey;
  private final String epoch;
  private final WriterScripts scripts;
  private final long maxValueBytes;
  private final CountDownLatch stopping = new CountDownLatch(1);

  /** Rows a lane sends at a time, and their packed size at most. */
  private static final int BATCH_ROWS = 512;

  private static final long BATCH_BYTES = 1 << 20;

  private BulkLoadWriter(
      io.lettuce.core.RedisClient client,
      io.lettuce.core.RedisClient laneClient,
      StatefulRedisConnection<String, String> direct,
      String stateKeyPrefix,
      String leaseOwner,
      String epoch,
      long maxValueBytes) {
    this.client = client;
    this.laneClient = laneClient;
    this.direct = direct;
    this.cluster = null;
    this.leaseKey = stateKeyPrefix + "writer";
    this.offsetsKey = stateKeyPrefix + "offsets";
    this.epoch = java.util.Objects.requireNonNull(epoch, "epoch");
    this.owner = java.util.Objects.requireNonNull(leaseOwner, "leaseOwner");
    this.scripts = WriterScripts.load(direct.sync());
    this.maxValueBytes = maxValueBytes;
  }

  private BulkLoadWriter(ClusterLanes cluster, String leaseOwner, String epoch) {
    this.client = null;
    this.laneClient = null;
    this.direct = null;
    this.cluster = cluster;
    this.leaseKey = cluster.stateKeyPrefix() + "writer";
    this.offsetsKey = cluster.stateKeyPrefix() + "offsets";
    this.epoch = java.util.Objects.requireNonNull(epoch, "epoch");
    this.owner = java.util.Objects.requireNonNull(leaseOwner, "leaseOwner");
    this.scripts = null;
    this.maxValueBytes = cluster.writer().maxValueBytes();
  }

  /**
   * As {@link #connect(RedisSettings, String, String, String, long)}; on a Redis Cluster each
   * lane's writer names its shard keys from {@code shardKeyPrefix} (see {@link
   * ClusterCacheWriter}).
   */
  public static BulkLoadWriter connect(
      RedisSettings settings,
      String stateKeyPrefix,
      String shardKeyPrefix,
      String leaseOwner,
      String epoch,
      long maxValueBytes)
      throws ServerUnreachableException {
    if (!settings.cluster()) {
      return connect(settings, stateKeyPrefix, leaseOwner, epoch, maxValueBytes);
    }
    ClusterCacheWriter writer =
        ClusterCacheWriter.connect(settings, stateKeyPrefix, shardKeyPrefix, leaseOwner);
    return new BulkLoadWriter(
        new ClusterLanes(settings, stateKeyPrefix, shardKeyPrefix, writer), leaseOwner, epoch);
  }

  /**
   * Connects to the master, for the daemon holding the writer's lease as {@code leaseOwner}.
   *
   * @param epoch the epoch of the state the daemon created for this load ({@link
   *     io.cachesync.state.StateStore#reset})
   * @param maxValueBytes Redis's proto-max-bulk-len: a larger value is evicted, not sent
   */
  public static BulkLoadWriter connect(
      RedisSettings settings,
      String stateKeyPrefix,
      String leaseOwner,
      String epoch,
      long maxValueBytes)
      throws ServerUnreachableException {
    String clientName = "cachesync-load-" + UUID.randomUUID();
    io.lettuce.core.RedisClient client = LettuceClients.reconnecting(settings, clientName);
    io.lettuce.core.RedisClient laneClient = LettuceClients.nonReconnecting(settings, clientName);
    try {
      return new BulkLoadWriter(
          client, laneClient, client.connect(), stateKeyPrefix, leaseOwner, epoch, maxValueBytes);
    } catch (RuntimeException e) {
      client.shutdown();
      laneClient.shutdown();
      if (e instanceof RedisConnectionException) {
        throw LettuceClients.connectFailed(settings, e);
      }
      throw e;
    }
  }

  /** Opens a lane: a connection of its own, with one batch's calls in flight at most. */
  public Lane lane() {
    return cluster == null ? new ScriptLane() : new ClusterLane();
  }

  /** Makes lanes waiting to retry give up (the daemon stops). */
  public void stop() {
    stopping.countDown();
  }

  @Override
  public void close() {
    stop();
    if (cluster != null) {
      cluster.writer().close();
      return;
    }
    direct.close();
    client.shutdown();
    laneClient.shutdown();
  }

  /** What a lane's calls did. */
  public record Counts(long written, long evicted, List<String> failures) {}

  /** Where a reader sends its rows. Not thread-safe: one per reader. */
  public interface Lane extends AutoCloseable {
    /**
     * Adds an eviction or a write of a loaded row, sending the rows added so far once they make a
     * batch.
     *
     * @throws WriterRoleLostException when another daemon holds the writer's role
     * @throws StateLostException when the state the load writes into is gone
     * @throws RedisUnavailableException when stopped while Redis could not take the rows
     */
    void add(CacheOperation operation);

    /** Sends the rows added so far. */
    void flush();

    /** Sends what is left and waits until every row sent is done; what the lane did so far. */
    Counts drain();

    @Override
    void close();
  }

  /**
   * A lane on a Redis Cluster: batches of rows written through a cluster writer of its own (its own
   * connection to each master), each batch again after a failure, at the backoff's pace, until
   * Redis takes it or the daemon stops.
   */
  private final class ClusterLane implements Lane {
    private final ClusterCacheWriter writer;
    private final List<CacheOperation> pending = new ArrayList<>();
    private long written;
    private long evicted;
    private final List<String> failures = new ArrayList<>();

    ClusterLane() {
      try {
        writer =
            ClusterCacheWriter.connect(
                cluster.settings(), cluster.stateKeyPrefix(), cluster.shardKeyPrefix(), owner);
      } catch (ServerUnreachableException e) {
        throw new RedisUnavailableException(e.getMessage(), e);
      }
    }

    @Override
    public void add(CacheOperation operation) {
      pending.add(operation);
      if (pending.size() >= BATCH_ROWS) {
        flush();
      }
    }

    @Override
    public void flush() {
      if (pending.isEmpty()) {
        return;
      }
      Duration delay = FIRST_RETRY;
      while (true) {
        if (stopping.getCount() == 0) {
          throw new RedisUnavailableException("the daemon is stopping", null);
        }
        try {
          BatchOutcome outcome = writer.load(pending);
          written += outcome.written();
          evicted += outcome.evicted();
          failures.addAll(outcome.failures());
          pending.clear();
          return;
        } catch (CacheRolledBackException e) {
          throw new StateLostException(
              "a Redis master lost rows of the load it had acknowledged: " + e.getMessage());
        } catch (RedisUnavailableException e) {
          LOG.warn(
              "Redis did not take the load's rows ({}); trying again in {} ms",
              e.getMessage(),
              delay.toMillis());
          try {
            if (stopping.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
              throw new RedisUnavailableException("the daemon is stopping", e);
            }
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new RedisUnavailableException("interrupted", interrupted);
          }
          Duration doubled = delay.multipliedBy(2);
          delay = doubled.compareTo(MAX_RETRY) > 0 ? MAX_RETRY : doubled;
        }
      }
    }

    @Override
    public Counts drain() {
      flush();
      return new Counts(written, evicted, List.copyOf(failures));
    }

    @Override
    public void close() {
      writer.close();
    }
  }

  /**
   * One connection; {@link #add} gathers rows into calls, and each batch of calls is sent while
   * Redis runs the batch before, which is waited for first (its failed calls sent again until Redis
   * takes them). Not thread-safe: one per reader.
   */
  private final class ScriptLane implements Lane {
    private StatefulRedisConnection<String, String> connection;
    private final List<Call> inFlight = new ArrayList<>();
    private long written;
    private long evicted;
    private final List<String> failures = new ArrayList<>();
    private final List<String> pairs = new ArrayList<>();
    private final List<Call> ready = new ArrayList<>();
    private Call current = new Call();
    private long readyRows;
    private long readyBytes;

    /** The last version written and its text: every row of a load has the same. */
    private Version version;

    private String versionText;

    private ScriptLane() {}

    /**
     * Adds an eviction or a write of a loaded row. Once the rows added make a batch (about 500 rows
     * or 1 MB packed), waits for the batch before it and sends them; so at most two batches are
     * held at a time.
     *
     * @throws WriterRoleLostException when another daemon holds the writer's role
     * @throws RedisUnavailableException when stopped while Redis could not take the rows
     */
    @Override
    public void add(CacheOperation operation) {
      if (!current.fits(operation)) {
        ready.add(current);
        readyRows += current.rows();
        readyBytes += current.bytes();
        current = new Call();
      }
      add(current, operation);
      if (readyRows + current.rows() >= BATCH_ROWS || readyBytes + current.bytes() >= BATCH_BYTES) {
        flush();
      }
    }

    /** Sends the rows added so far, after the batch before is done. */
    @Override
    public void flush() {
      if (current.rows() > 0) {
        ready.add(current);
        current = new Call();
      }
      if (ready.isEmpty()) {
        return;
      }
      finishInFlight();
      for (Call call : ready) {
        call.reply = sendWithRetries(call);
        inFlight.add(call);
      }
      ready.clear();
      readyRows = 0;
      readyBytes = 0;
    }

    /** Sends what is left and waits until every call sent is done. */
    @Override
    public Counts drain() {
      flush();
      finishInFlight();
      return new Counts(written, evicted, List.copyOf(failures));
    }

    private void add(Call call, CacheOperation operation) {
      if (operation instanceof Evict evict) {
        call.delete(evict.key());
        evicted++;
        return;
      }
      Write write = (Write) operation;
      long ttl = write.ttl().map(Ttl::seconds).orElse(0L);
      if (write.format() == ValueFormat.JSON) {
        String tooLarge = BatchTransaction.tooLarge(write, maxValueBytes);
        if (tooLarge != null) {
          refuse(call, write, tooLarge);
        } else {
          written++;
          call.json(write.key(), ttl, JsonValueEncoder.encode(write, null).orElseThrow());
        }
        return;
      }
      String tooLarge = BatchTransaction.hashFields(write, maxValueBytes, pairs);
      if (tooLarge != null) {
        refuse(call, write, tooLarge);
        return;
      }
      written++;
      if (write.version() != version) {
        version = write.version();
        versionText = version.text();
      }
      call.hash(write.key(), ttl, versionText, pairs);
    }

    /** A row too large to send: Redis would drop the connection. A cache miss instead. */
    private void refuse(Call call, Write write, String why) {
      call.delete(write.key());
      evicted++;
      failures.add("key " + DisplayText.of(write.key()) + ": " + why + "; evicted");
    }

    private void finishInFlight() {
      Duration delay = FIRST_RETRY;
      while (!inFlight.isEmpty()) {
        Call call = inFlight.get(0);
        try {
          LettuceClients.await(call.reply);
          inFlight.remove(0);
          delay = FIRST_RETRY;
          continue;
        } catch (RedisUnavailableException e) {
          String message = String.valueOf(LettuceClients.rootCause(e).getMessage());
          if (message.startsWith("STATE")) {
            throw new StateLostException(message);
          }
          if (message.startsWith("FENCED")) {
            // The role is lost, also when nobody holds the lease: taking it again here would let
            // a loader paused past its lease write on (the epoch check guards that too).
            throw new WriterRoleLostException(
                leaseKey, message.substring(message.lastIndexOf("held by ") + "held by ".length()));
          }
          if (message.startsWith("NOSCRIPT")) {
            scripts.reload();
          } else {
            // A reply such as READONLY (a replica now) or BUSY, or a lost connection: try again on
            // a new connection, at the backoff's pace. Sending rows again is harmless: they are
            // the same rows, and no other writer writes meanwhile.
            LOG.warn(
                "Redis did not take the initial load's rows ({}); trying again in {} ms",
                message,
                delay.toMillis());
            dropConnection();
            pause(delay, e);
            delay = next(delay);
          }
        }
        call.reply = sendWithRetries(call);
      }
    }

    /** Waits {@code delay}, unless the daemon stops first. */
    private void pause(Duration delay, RuntimeException cause) {
      try {
        if (stopping.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new RedisUnavailableException("the daemon is stopping", cause);
        }
      } catch (InterruptedException interrupted) {
        Thread.currentThread().interrupt();
        throw new RedisUnavailableException("interrupted", interrupted);
      }
    }

    private Duration next(Duration delay) {
      Duration doubled = delay.multipliedBy(2);
      return doubled.compareTo(MAX_RETRY) > 0 ? MAX_RETRY : doubled;
    }

    private RedisFuture<Long> sendWithRetries(Call call) {
      Duration delay = FIRST_RETRY;
      while (true) {
        if (stopping.getCount() == 0) {
          throw new RedisUnavailableException("the daemon is stopping", null);
        }
        try {
          return send(call);
        } catch (RedisUnavailableException | RedisConnectionException e) {
          dropConnection();
          LOG.warn(
              "Redis did not take the initial load's rows ({}); trying again in {} ms",
              e.getMessage(),
              delay.toMillis());
          pause(delay, e);
          delay = next(delay);
        }
      }
    }

    private RedisFuture<Long> send(Call call) {
      if (connection == null || !connection.isOpen()) {
        dropConnection();
        connection = laneClient.connect();
      }
      CommandArgs<String, String> arguments =
          new CommandArgs<>(StringCodec.UTF8)
              .add(scripts.digest("bulk_load"))
              .add(2L + call.rows())
              .addKey(leaseKey)
              .addKey(offsetsKey)
              .addKeys(call.keys())
              .add(owner)
              .add(epoch)
              .add(call.packed());
      return connection
          .async()
          .dispatch(CommandType.EVALSHA, new IntegerOutput<>(StringCodec.UTF8), arguments);
    }

    private void dropConnection() {
      if (connection != null) {
        connection.close();
        connection = null;
      }
    }

    @Override
    public void close() {
      dropConnection();
    }
  }

  /** The arguments of one call of bulk_load.lua, gathered row by row. */
  static final class Call {
    /** Rows per call at most, and values unpacked (Redis's Lua stack takes about 8,000). */
    private static final int MAX_ROWS = 256;

    private static final int MAX_VALUES = 4_000;

    /** The packed rows' size at most; a larger row goes alone. */
    private static final int MAX_BYTES = 1 << 20;

    private final List<String> keys = new ArrayList<>();
    private final MessageBufferPacker packer = MessagePack.newDefaultBufferPacker();
    private int values;
    RedisFuture<Long> reply;

    int rows() {
      return keys.size();
    }

    long bytes() {
      return packer.getTotalWrittenBytes();
    }

    String[] keys() {
      return keys.toArray(String[]::new);
    }

    byte[] packed() {
      return packer.toByteArray();
    }

    /** Whether the operation's row still fits in this call (an empty call takes any row). */
    boolean fits(CacheOperation operation) {
      if (keys.isEmpty()) {
        return true;
      }
      int more = operation instanceof Write write ? 5 + 2 * write.values().size() : 2;
      return keys.size() < MAX_ROWS
          && values + more <= MAX_VALUES
          && packer.getTotalWrittenBytes() < MAX_BYTES;
    }

    void delete(String key) {
      keys.add(key);
      try {
        packer.packString("d").packLong(0);
      } catch (IOException e) {
        throw new UncheckedIOException("packing a row in memory failed", e);
      }
      values += 2;
    }

    void json(String key, long ttl, String value) {
      keys.add(key);
      try {
        packer.packString("j").packLong(ttl).packString(value);
      } catch (IOException e) {
        throw new UncheckedIOException("packing a row in memory failed", e);
      }
      values += 3;
    }

    /** A hash: its version as field {@code __v}, then {@code fields} (names and values). */
    void hash(String key, long ttl, String version, List<String> fields) {
      keys.add(key);
      int pairs = 1 + fields.size() / 2;
      try {
        packer.packString("h").packLong(ttl).packInt(pairs);
        packer.packString("__v").packString(version);
        for (String field : fields) {
          packer.packString(field);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("packing a row in memory failed", e);
      }
      values += 3 + 2 * pairs;
    }
  }

  /** The state the load writes into is gone or was reset by another daemon. */
  public static final class StateLostException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StateLostException(String message) {
      super(message);
    }
  }

  /**
   * Redis's replication id ({@code master_replid} of INFO replication): a failover to a replica
   * changes it, and a replica promoted may lack writes the old master acknowledged.
   */
  public String replicationId() {
    if (cluster != null) {
      return cluster.writer().replicationIds();
    }
    String info = direct.sync().info("replication");
    for (String line : info.split("\r?\n")) {
      if (line.startsWith("master_replid:")) {
        return line.substring("master_replid:".length()).strip();
      }
    }
    return "";
  }

  /** Deletes the position a load stored, so that the next start loads again. */
  public void forgetPosition(String stateKeyPrefix) {
    if (cluster != null) {
      cluster.writer().forgetPosition();
      return;
    }
    direct.sync().del(stateKeyPrefix + "position");
  }
}
