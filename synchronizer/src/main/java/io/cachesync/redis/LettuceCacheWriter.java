package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Reject;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheWriter;
import io.cachesync.sync.RedisUnavailableException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies cache operations to the Redis master over one pipelined connection: each batch is one
 * MULTI/EXEC of versioned Lua scripts (write only when not older than what is stored) that ends
 * with the batch's position, so the data and the position it came from are stored together.
 */
public final class LettuceCacheWriter implements CacheWriter {
  private static final Logger LOG = LoggerFactory.getLogger(LettuceCacheWriter.class);
  private final RedisClient client;

  /** Opens the batch connection: see {@link #reopenIfDropped()}. */
  private final RedisClient pipelineClient;

  private StatefulRedisConnection<String, String> pipeline;
  private final StatefulRedisConnection<String, String> direct;
  private final String positionKey;
  private final int waitReplicas;
  private final String clientName;
  private WriterScripts scripts;
  private BatchTransaction transaction;
  private TableEvictor evictor;
  private BackgroundTruncates background;
  private PendingTruncates truncates;
  private long maxValueBytes;
  private Consumer<StatefulRedisConnection<String, String>> beforeMulti = connection -> {};
  private final String stateKeyPrefix;
  private final WriterLeaseFence fence;

  /** Set when a batch failed: its connection may be gone while Redis still holds its bytes. */
  private boolean fenceNeeded;

  private LettuceCacheWriter(
      RedisClient client,
      RedisClient pipelineClient,
      StatefulRedisConnection<String, String> pipeline,
      StatefulRedisConnection<String, String> direct,
      String stateKeyPrefix,
      int waitReplicas,
      String clientName,
      String leaseOwner) {
    this.fence = new WriterLeaseFence(stateKeyPrefix + "writer", leaseOwner);
    this.client = client;
    this.pipelineClient = pipelineClient;
    this.clientName = clientName;
    this.waitReplicas = waitReplicas;
    this.pipeline = pipeline;
    this.direct = direct;
    this.positionKey = stateKeyPrefix + "position";
    this.stateKeyPrefix = stateKeyPrefix;
  }

  /**
   * Connects to the master. The connection reads run on reconnects by itself after a loss; the
   * batch connection does not: {@link #reopenIfDropped()} says why.
   *
   * @param stateKeyPrefix where the synchronizer's own keys live, e.g. {@code cachesync:shop:}
   */
  public static LettuceCacheWriter connect(RedisSettings settings, String stateKeyPrefix)
      throws ServerUnreachableException {
    return connect(settings, stateKeyPrefix, null);
  }

  /**
   * As {@link #connect(RedisSettings, String)}, for the daemon holding the writer's lease as {@code
   * leaseOwner}: every batch and background eviction is refused once another owner holds it ({@link
   * WriterLeaseFence}).
   */
  public static LettuceCacheWriter connect(
      RedisSettings settings, String stateKeyPrefix, String leaseOwner)
      throws ServerUnreachableException {
    // A name of its own, so that the writer can find its earlier connections in Redis (fence()).
    String clientName = "cachesync-writer-" + UUID.randomUUID();
    RedisClient client = LettuceClients.reconnecting(settings, clientName);
    RedisClient pipelineClient = LettuceClients.nonReconnecting(settings, clientName);
    try {
      LettuceCacheWriter writer =
          new LettuceCacheWriter(
              client,
              pipelineClient,
              pipelineClient.connect(),
              client.connect(),
              stateKeyPrefix,
              settings.waitReplicas(),
              clientName,
              Boolean.getBoolean(UNSAFE_NO_LEASE_FENCE) ? null : leaseOwner);
      writer.start();
      return writer;
    } catch (RuntimeException e) {
      // Whatever failed (the connection, a refused SCRIPT LOAD, a server that is not Redis), the
      // client's threads and connections go with it.
      client.shutdown();
      pipelineClient.shutdown();
      if (e instanceof RedisConnectionException) {
        throw LettuceClients.connectFailed(settings, e);
      }
      throw e;
    }
  }

  /** Loads the scripts and reads the limits the batches keep to. */
  private void start() {
    scripts = WriterScripts.load(direct.sync());
    truncates = new PendingTruncates(stateKeyPrefix, scripts);
    maxValueBytes = LettuceClients.maxValueBytes(direct.sync());
    useBatchConnection();
    background =
        new BackgroundTruncates(
            direct.sync(),
            truncates,
            new TableEvictor(direct, direct.sync(), scripts, fence),
            scripts);
    background.start();
  }

  /** Builds what runs on the batch connection, after it was (re)opened. */
  private void useBatchConnection() {
    pipeline.setAutoFlushCommands(false);
    BatchTransaction earlier = transaction;
    transaction =
        new BatchTransaction(
            pipeline,
            direct.sync(),
            scripts,
            positionKey,
            stateKeyPrefix + "applied",
            maxValueBytes,
            truncates,
            waitReplicas,
            fence);
    transaction.beforeMulti(beforeMulti);
    transaction.inheritPendingRestore(earlier);
    evictor = new TableEvictor(pipeline, direct.sync(), scripts, fence);
  }

  /**
   * Opens a new batch connection when the last one dropped.
   *
   * <p>A batch's checks hold only while its WATCH does: the reads before the MULTI (is the position
   * behind what was acknowledged, i.e. did a failover lose batches; the cached values TOAST columns
   * are merged from) stay true up to the EXEC because EXEC applies nothing if the position key
   * changed. A WATCH lives in one Redis connection: had the connection reconnected by itself
   * between the reads and the MULTI, the EXEC would run on a new connection that watches nothing,
   * and apply a batch checked against a Redis that has changed since (after a failover that lost
   * acknowledged batches, write_hash.lua would merge unchanged columns of a rolled-back value under
   * a newer version). So the batch connection never reconnects by itself: once dropped, every
   * command on it fails, the batch fails and is retried, and the retry, here, opens a new
   * connection, reads again and checks again. The alternative, the position checked by every write
   * script, would add a read and two arguments to every script call for a check that a connection's
   * identity gives for free.
   */
  private void reopenIfDropped() {
    if (pipeline.isOpen()) {
      return;
    }
    LOG.info("The batch connection to Redis dropped; opening another for this batch");
    pipeline.close();
    pipeline = pipelineClient.connect();
    useBatchConnection();
    // The dropped one may still be open on Redis's side: fence() closes it.
    fenceNeeded = true;
  }

  /**
   * For the tests: {@code hook} runs with the batch connection in every batch, between the reads
   * under WATCH and the MULTI.
   */
  void beforeMulti(Consumer<StatefulRedisConnection<String, String>> hook) {
    this.beforeMulti = hook;
    transaction.beforeMulti(hook);
  }

  /** Redis's proto-max-bulk-len, as read at connect: the largest value a write may send. */
  public long maxValueBytes() {
    return maxValueBytes;
  }

  /**
   * How long, in milliseconds, a batch holding a TRUNCATE evicts the table's keys itself before it
   * leaves the rest to the background and goes on (a SCAN page of {@code COUNT 1000} at least); 200
   * unless this system property says otherwise. The tests set 0.
   */
  public static final String TRUNCATE_BUDGET_MILLIS = "cachesync.truncateBudgetMillis";

  private final Duration truncateBudget =
      Duration.ofMillis(Long.getLong(TRUNCATE_BUDGET_MILLIS, 200));

  /**
   * For the tests that show what the version guard prevents: with this system property set to
   * {@code true}, the scripts write whatever version is stored. Never set it in production.
   */
  public static final String UNSAFE_NO_VERSION_GUARD = "cachesync.unsafe.noVersionGuard";

  /**
   * For the tests that show what the version guard does alone: with this system property set to
   * {@code true}, writes are not fenced by the writer's lease ({@link WriterLeaseFence}), and a
   * daemon whose lease renewal finds another holder writes on instead of stopping (a stale daemon
   * then meets only the version guard, whatever the order of its retry and its renewal). Never set
   * it in production.
   */
  public static final String UNSAFE_NO_LEASE_FENCE = "cachesync.unsafe.noLeaseFence";

  /** A script's text, for the other Redis adapters that run the writer's scripts. */
  static String resource(String name) {
    return WriterScripts.resource(name);
  }

  @Override
  public BatchOutcome apply(
      List<CacheOperation> operations, Version position, Version acknowledged) {
    // A TRUNCATE's keys are found with SCAN, outside any transaction, so a batch holding one is
    // applied in parts. Its evictions run here for truncateBudget at most: what is left then is
    // recorded in Redis with the TRUNCATE's position (PendingTruncates) and evicted in the
    // background (BackgroundTruncates) while the stream goes on, since the SCAN covers the whole
    // keyspace. The part before a TRUNCATE is stored with the position just below the
    // TRUNCATE's, before its evictions run, and the TRUNCATE's own position is stored once they
    // are done, or left to the background: whatever happens next, Redis holds everything below
    // the stored position and nothing beyond it but (some of) the TRUNCATE's evictions, which a
    // restart applies again (or the background finishes, from the record).
    // Storing the last change before the TRUNCATE instead would let that change, applied again
    // after a restart, land on keys the evictions had already deleted.
    // Each part is checked against the position the part before it stored, so a failover that
    // loses the evictions (they are acknowledged before they reach a replica) is noticed by the
    // next part, or by the retry: a failure says how many operations are done and what position
    // Redis acknowledged with them, and the retry goes on from there rather than writing the
    // earlier part again over the evictions.
    int done = 0;
    Version reached = acknowledged;
    try {
      reopenIfDropped();
      if (fenceNeeded) {
        fence();
      }
      BatchOutcome outcome = BatchOutcome.NONE;
      List<CacheOperation> segment = new ArrayList<>();
      for (int i = 0; i < operations.size(); i++) {
        CacheOperation operation = operations.get(i);
        if (operation instanceof EvictTable truncate) {
          Version before = truncate.version().justBefore();
          outcome = outcome.plus(transaction.apply(segment, before, reached));
          reached = max(reached, before);
          done = i;
          Optional<BatchOutcome> evicted = evictor.evict(truncate, truncateBudget.toNanos());
          outcome = outcome.plus(evicted.orElse(BatchOutcome.NONE));
          // Not done within the budget: recorded with the TRUNCATE's position, finished meanwhile.
          transaction.apply(
              List.of(),
              truncate.version(),
              reached,
              evicted.isPresent() ? Optional.empty() : Optional.of(truncate));
          if (evicted.isEmpty()) {
            background.wake();
          }
          reached = max(reached, truncate.version());
          done = i + 1;
          segment.clear();
        } else if (!(operation instanceof Reject)) {
          segment.add(operation);
        }
      }
      // Each transaction waited for the replicas in its EXEC's round trip (BatchTransaction).
      return outcome.plus(transaction.apply(segment, position, reached));
    } catch (RedisException e) {
      if (String.valueOf(LettuceClients.rootCause(e).getMessage()).startsWith("NOSCRIPT")) {
        try {
          scripts.reload();
        } catch (RedisException again) {
          // Still unavailable: the retry loads them.
        }
      }
      fenceNeeded = true;
      throw LettuceClients.unavailable(e).afterApplying(done, reached);
    } catch (RedisUnavailableException e) {
      fenceNeeded = true;
      throw e.afterApplying(done, reached);
    }
  }

  /**
   * Closes, in Redis, this writer's connections other than the two it uses now. A connection that
   * dropped on the writer's side can still be open on Redis's, with a batch's bytes not yet read (a
   * broken network delivers them late): run after the retry, its writes would land on keys a later
   * batch deleted, where no version guard can tell. Once Redis closed it, nothing it holds runs, so
   * this precedes the first batch after a failure. Each connection carries the writer's own name,
   * set again on every reconnect; CLIENT LIST is read only after a failure.
   */
  private void fence() {
    try {
      closeEarlierConnections();
    } catch (RedisCommandExecutionException | RedisUnavailableException e) {
      if (e instanceof RedisUnavailableException
          && !(e.getCause() instanceof RedisCommandExecutionException)) {
        throw e; // Redis unreachable: the batch is retried, and this with it
      }
      // Refused (an ACL without CLIENT): retrying is all that is left, as before this existed.
      LOG.warn(
          "Could not close this writer's earlier connections in Redis ({}): a batch delayed in the"
              + " network could still run after its retry; allow the user CLIENT ID, CLIENT LIST"
              + " and CLIENT KILL",
          e.getMessage());
    }
    fenceNeeded = false;
  }

  private void closeEarlierConnections() {
    RedisFuture<Long> pipelineId = pipeline.async().clientId();
    pipeline.flushCommands();
    long current = LettuceClients.await(pipelineId);
    LettuceClients.closeEarlierConnections(
        direct.sync(), clientName, current, direct.sync().clientId());
  }

  private static Version max(Version a, Version b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  @Override
  public Optional<Version> position() {
    try {
      return Optional.ofNullable(direct.sync().hget(positionKey, "version")).map(Version::parse);
    } catch (RedisException e) {
      throw LettuceClients.unavailable(e);
    }
  }

  @Override
  public void close() {
    if (background != null) {
      background.close();
    }
    pipeline.close();
    direct.close();
    client.shutdown();
    pipelineClient.shutdown();
  }
}
