package io.cachesync.redis;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.DisplayText;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.redis.JsonValueEncoder.CachedJson;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.RedisUnavailableException;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies writes and evictions as one MULTI/EXEC of versioned scripts that ends with the position
 * they bring Redis to, so that the data and the position it came from are stored together; and
 * tallies what each operation did.
 */
final class BatchTransaction {
  private static final Logger LOG = LoggerFactory.getLogger(BatchTransaction.class);

  private final StatefulRedisConnection<String, String> pipeline;
  private final RedisCommands<String, String> direct;
  private final WriterScripts scripts;
  private final String positionKey;
  private final String appliedChannel;
  private final long maxValueBytes;
  private final PendingTruncates truncates;
  private final int waitReplicas;

  /** For the tests: runs between the reads under WATCH and the MULTI. */
  private Consumer<StatefulRedisConnection<String, String>> beforeMulti = connection -> {};

  private final WriterLeaseFence fence;

  /** A batch's position to put back to where it was before the batch. */
  private record Restore(Version position, Version before) {}

  /**
   * Set when a batch stored its position and then failed, until the position is put back: done
   * before anything else when putting it back failed too.
   */
  private Restore pendingRestore;

  /** Whether the batch in hand evicted, after its EXEC, keys whose value Redis refused. */
  private boolean evictedAfterExec;

  /** How often the scripts were loaded again for the batch in hand: once is enough. */
  private int scriptReloads;

  /**
   * @param pipeline the connection the transaction is sent on, flushed by hand
   * @param direct a second connection, for reads
   * @param appliedChannel where the position's applied bound is published (see {@link
   *     Version#applied()})
   * @param maxValueBytes Redis's proto-max-bulk-len: a larger value would make Redis drop the
   *     connection
   * @param waitReplicas redis.waitReplicas: how many replicas must acknowledge a stored position
   */
  BatchTransaction(
      StatefulRedisConnection<String, String> pipeline,
      RedisCommands<String, String> direct,
      WriterScripts scripts,
      String positionKey,
      String appliedChannel,
      long maxValueBytes,
      PendingTruncates truncates,
      int waitReplicas,
      WriterLeaseFence fence) {
    this.truncates = truncates;
    this.waitReplicas = waitReplicas;
    this.fence = fence;
    this.pipeline = pipeline;
    this.direct = direct;
    this.scripts = scripts;
    this.positionKey = positionKey;
    this.appliedChannel = appliedChannel;
    this.maxValueBytes = maxValueBytes;
  }

  /**
   * For the tests: {@code hook} runs with the batch connection once the reads under WATCH are
   * answered and before the MULTI is sent, the window a reconnect must not slip through.
   */
  void beforeMulti(Consumer<StatefulRedisConnection<String, String>> hook) {
    this.beforeMulti = hook;
  }

  /**
   * One MULTI/EXEC with the operations (writes and evictions) and, last in it, the position they
   * bring Redis to; the position is put back when an operation failed for a reason other than its
   * value.
   *
   * <p>What the batch reads (the position, the writer's lease, the cached JSON values that
   * unchanged TOAST columns are merged from) is read first, with the position and lease keys
   * WATCHed: a Redis that lost acknowledged batches, or another daemon holding the writer's role,
   * is noticed before anything is written (a merge would copy an old value under a newer version,
   * and the replay of the lost changes would then be refused as stale), and EXEC applies nothing if
   * the position moves meanwhile. Nothing that can time out runs between MULTI and EXEC, and a
   * failure there DISCARDs, so the connection is never left inside a transaction.
   *
   * <p>The position is stored last in the same transaction, so that Redis holds it together with
   * the data: a restart resumes after everything Redis holds, and never applies a batch again whose
   * earlier changes would land, for a moment, on keys its later changes deleted. When a script
   * failed for a reason other than its value (an ACL refusing a command, a Redis without cmsgpack),
   * the position is put back at once and the batch retried, so progress stops: Redis holds a
   * position past a change it does not hold only if the daemon dies in that moment.
   *
   * @param acknowledged the position Redis acknowledged before: holding less, it lost batches
   * @throws CacheRolledBackException when Redis holds less than {@code acknowledged}
   * @throws RedisUnavailableException when the batch must be retried; its position is not left
   *     stored (put back, or before the next attempt when Redis cannot be reached)
   */
  BatchOutcome apply(List<CacheOperation> operations, Version position, Version acknowledged) {
    return apply(operations, position, acknowledged, Optional.empty());
  }

  /**
   * As {@link #apply(List, Version, Version)}, also recording, in the same transaction, a TRUNCATE
   * whose evictions are left to the background ({@link PendingTruncates}).
   */
  BatchOutcome apply(
      List<CacheOperation> operations,
      Version position,
      Version acknowledged,
      Optional<EvictTable> record) {
    return apply(operations, position, acknowledged, record, 0);
  }

  /**
   * @param leaseDiscards how many EXECs of this batch in a row were discarded while this daemon
   *     held the lease (see below)
   */
  private BatchOutcome apply(
      List<CacheOperation> operations,
      Version position,
      Version acknowledged,
      Optional<EvictTable> record,
      int leaseDiscards) {
    requireNonNull(position, "position");
    restorePending();
    evictedAfterExec = false;
    Map<String, CachedJson> cached = readBefore(operations, acknowledged);
    List<Future<String>> results = new ArrayList<>(operations.size());
    Map<Integer, String> oversize = new HashMap<>();
    List<Future<String>> state = new ArrayList<>();
    List<RedisFuture<String>> stored = new ArrayList<>(1);
    List<RedisFuture<Long>> replicas = new ArrayList<>(1);
    RedisFuture<TransactionResult> exec =
        queue(
            operations,
            cached,
            results,
            oversize,
            commands -> {
              record.ifPresent(truncate -> state.add(truncates.queueRecord(commands, truncate)));
              stored.add(storePosition(commands, position, acknowledged));
            },
            commands -> {
              // In the EXEC's round trip: WAIT blocks for every write sent before it on the
              // connection and writes nothing, so it costs nothing when the batch is refused.
              if (waitReplicas > 0) {
                replicas.add(
                    commands.waitForReplication(
                        waitReplicas, LettuceClients.WAIT_REPLICAS.toMillis()));
              }
            });
    TransactionResult result = LettuceClients.await(exec);
    if (result.wasDiscarded() && leaseDiscards < 2 && fence.renewedMeanwhile(direct)) {
      // This daemon's own renewal of the lease, WATCHed with the position, touched it: Redis
      // applied nothing, so the batch is prepared and sent again at once.
      return apply(operations, position, acknowledged, record, leaseDiscards + 1);
    }
    if (result.wasDiscarded()) {
      throw new RedisUnavailableException(
          scripts.shardKey().isPresent()
              // On a cluster's master, the shard key is written by every writer of the daemon: the
              // stream's, and each lane of a load or resync, whose parts then wait for each other.
              ? "the master's shard key changed while the batch was prepared (another writer of"
                  + " this daemon, such as a load lane, stored its position meanwhile); Redis"
                  + " applied nothing of it"
              : "the position key changed while the batch was prepared (is a second synchronizer"
                  + " of the same name running?); Redis applied nothing of it",
          null);
    }
    String storedOutcome = outcome(stored.get(0));
    if (storedOutcome.equals("stored")) {
      // Until the batch is known good, a failure below must put the position back, at once or
      // before the next attempt (pendingRestore), so that neither a restart nor a retry skips it.
      pendingRestore = new Restore(position, acknowledged);
    }
    boolean noScript =
        results.stream().anyMatch(BatchTransaction::isNoScript)
            || state.stream().anyMatch(BatchTransaction::isNoScript)
            || stored.stream().anyMatch(BatchTransaction::isNoScript);
    if (noScript) {
      restorePending();
      if (scriptReloads > 0) {
        throw new RedisUnavailableException(
            "Redis lost the writer's scripts again right after they were loaded", null);
      }
      scripts.reload();
      scriptReloads++;
      try {
        return apply(operations, position, acknowledged, record);
      } finally {
        scriptReloads = 0;
      }
    }
    BatchOutcome outcome;
    try {
      state.forEach(LettuceClients::await);
      outcome = tally(operations, results, oversize);
      if (storedOutcome.startsWith("behind:")) {
        throw new CacheRolledBackException(
            acknowledged, storedOutcome.substring("behind:".length()));
      }
      if (storedOutcome.startsWith("failed:")) {
        throw new RedisUnavailableException(
            "a write of the batch failed on the shard, which stored no position; the batch is"
                + " retried: "
                + storedOutcome.substring("failed:".length()),
            null);
      }
      if (storedOutcome.startsWith("error:")) {
        throw new RedisUnavailableException(
            "Redis did not store the batch's position: " + storedOutcome.substring(7), null);
      }
    } catch (RuntimeException e) {
      restorePending();
      throw e;
    }
    pendingRestore = null;
    if (evictedAfterExec && !replicas.isEmpty()) {
      // The evictions of refused values came after the WAIT sent with the EXEC.
      replicas.add(
          pipeline
              .async()
              .waitForReplication(waitReplicas, LettuceClients.WAIT_REPLICAS.toMillis()));
      pipeline.flushCommands();
    }
    for (RedisFuture<Long> acknowledgedBy : replicas) {
      LettuceClients.requireReplicas(
          LettuceClients.await(acknowledgedBy), waitReplicas, "the batch and its position");
    }
    return outcome;
  }

  /**
   * On a cluster's master, the slots it serves, stored with the shard's position (see {@link
   * ClusterCacheWriter}); empty to leave what is stored.
   */
  private String shardSlots = "";

  /** Sets what the next batches store as the shard's slots with its position. */
  void shardSlots(String slots) {
    this.shardSlots = slots;
  }

  /** Redis's proto-max-bulk-len, as this transaction keeps to it. */
  long maxValueBytes() {
    return maxValueBytes;
  }

  /**
   * Takes over the position an earlier transaction (on a connection since dropped) must put back.
   */
  void inheritPendingRestore(BatchTransaction earlier) {
    if (earlier != null) {
      pendingRestore = earlier.pendingRestore;
    }
  }

  /**
   * Puts back a position stored by a batch that then failed, if any; a failure to do so (Redis
   * unreachable) keeps it pending, and the next attempt of the batch does it first.
   */
  private void restorePending() {
    if (pendingRestore != null) {
      restorePosition(pendingRestore.position(), pendingRestore.before());
      pendingRestore = null;
    }
  }

  /** A script's status, or the error it failed with. */
  private static String outcome(RedisFuture<String> status) {
    try {
      return status.get(0, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      return "error: " + LettuceClients.rootCause(e).getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisUnavailableException("interrupted", e);
    }
  }

  /**
   * WATCHes the writer's lease and the position key and reads, in one round trip, them and the
   * cached JSON values the batch merges unchanged columns from.
   *
   * @throws CacheRolledBackException when Redis holds less than {@code acknowledged}
   */
  private Map<String, CachedJson> readBefore(
      List<CacheOperation> operations, Version acknowledged) {
    RedisAsyncCommands<String, String> commands = pipeline.async();
    // The writer's lease, WATCHed with the position: see WriterLeaseFence.
    RedisFuture<String> lease = fence.active() ? fence.watch(commands) : null;
    commands.watch(positionKey);
    RedisFuture<String> held = commands.hget(positionKey, "version");
    Map<String, RedisFuture<String>> reads = new HashMap<>();
    for (CacheOperation operation : operations) {
      if (operation instanceof Write write
          && write.format() == ValueFormat.JSON
          && !write.unchangedColumns().isEmpty()) {
        reads.computeIfAbsent(write.mergeFrom(), commands::get);
      }
    }
    pipeline.flushCommands();
    if (lease != null && !leaseHeld(lease)) {
      return readBefore(operations, acknowledged);
    }
    String stored = LettuceClients.await(held);
    if (!acknowledged.equals(Version.ZERO)
        && (stored == null || stored.compareTo(acknowledged.text()) < 0)) {
      commands.unwatch();
      pipeline.flushCommands();
      throw new CacheRolledBackException(acknowledged, stored == null ? "none" : stored);
    }
    Map<String, CachedJson> cached = new HashMap<>();
    for (Map.Entry<String, RedisFuture<String>> read : reads.entrySet()) {
      cachedValue(read.getValue()).ifPresent(value -> cached.put(read.getKey(), value));
    }
    return cached;
  }

  /**
   * Whether this daemon holds the writer's lease, as read with the batch's reads; when it does not,
   * the WATCH is dropped, and the batch refused if another daemon holds it.
   *
   * @throws io.cachesync.sync.WriterRoleLostException when another daemon holds it
   */
  private boolean leaseHeld(RedisFuture<String> lease) {
    boolean held = false;
    try {
      held = fence.held(LettuceClients.await(lease), direct);
      return held;
    } finally {
      if (!held) {
        pipeline.async().unwatch();
        pipeline.flushCommands();
      }
    }
  }

  /**
   * A JSON value read for a merge; empty when there is none: no key, a value without a version, or
   * a key of another type (WRONGTYPE), all a cache miss. Any other error (NOPERM, OOM, a timeout)
   * says nothing about the value: taking it for a miss would evict the rows while the stream goes
   * on, so it fails the batch, to be retried.
   *
   * @throws RedisUnavailableException when the read failed for another reason than the key's type
   */
  private static Optional<CachedJson> cachedValue(RedisFuture<String> read) {
    try {
      return CachedJson.parse(LettuceClients.await(read));
    } catch (RedisUnavailableException e) {
      if (e.getCause() instanceof RedisCommandExecutionException
          && String.valueOf(e.getCause().getMessage()).startsWith("WRONGTYPE")) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /**
   * Queues the operations in a MULTI and sends them with EXEC; DISCARDs when anything fails before
   * the EXEC is queued, so that the connection does not stay inside the transaction.
   */
  private RedisFuture<TransactionResult> queue(
      List<CacheOperation> operations,
      Map<String, CachedJson> cached,
      List<Future<String>> results,
      Map<Integer, String> oversize,
      Consumer<RedisAsyncCommands<String, String>> stateCommands,
      Consumer<RedisAsyncCommands<String, String>> afterExec) {
    beforeMulti.accept(pipeline);
    RedisAsyncCommands<String, String> commands = pipeline.async();
    Map<String, CachedJson> batchJson = new HashMap<>();
    RedisFuture<TransactionResult> exec;
    commands.multi();
    try {
      HashWrites hashes = new HashWrites();
      for (CacheOperation operation : operations) {
        String tooLarge = null;
        if (operation instanceof Write write) {
          // A hash row's fields are gathered once, for this check and for the script call.
          tooLarge =
              write.format() == ValueFormat.HASH
                  ? hashes.prepare(write)
                  : tooLarge(write, maxValueBytes);
        }
        if (tooLarge != null) {
          // Sending it would make Redis drop the connection and stall the stream for good.
          hashes.send(commands, results);
          oversize.put(results.size(), tooLarge);
          Write write = (Write) operation;
          batchJson.remove(write.key());
          results.add(evict(commands, write.key(), write.version()));
        } else if (operation instanceof Write write && write.format() == ValueFormat.HASH) {
          hashes.addPrepared(write, commands, results);
        } else if (operation instanceof Write write && write.version().initialLoad()) {
          hashes.send(commands, results);
          results.add(sendLoadedJson(commands, write, batchJson));
        } else {
          // In order: everything sent before this operation executes before it.
          hashes.send(commands, results);
          results.add(send(commands, operation, batchJson, cached));
        }
      }
      hashes.send(commands, results);
      stateCommands.accept(commands);
      exec = commands.exec();
      afterExec.accept(commands);
    } catch (RuntimeException e) {
      commands.discard();
      pipeline.flushCommands();
      throw e;
    }
    pipeline.flushCommands();
    return exec;
  }

  /**
   * Queues, last in the batch's transaction, the storing of its position (unless Redis holds a
   * newer one), so that Redis holds the position and the data it came from together: a restart
   * never replays a batch Redis holds, whose earlier changes would otherwise land again, for a
   * moment, on keys its later changes deleted. With it, in the same script, the position's applied
   * bound (the read-your-writes fence, {@link Version#applied()}) is stored and published.
   */
  private RedisFuture<String> storePosition(
      RedisAsyncCommands<String, String> commands, Version position, Version acknowledged) {
    if (scripts.shardKey().isPresent()) {
      // A shard of a cluster: its own position, in its own hash (store_shard_position.lua).
      return commands.evalsha(
          scripts.digest("store_shard_position"),
          ScriptOutputType.STATUS,
          new String[] {positionKey},
          acknowledged.text(),
          position.text(),
          position.toString(),
          Instant.now().toString(),
          shardSlots);
    }
    return commands.evalsha(
        scripts.digest("store_position"),
        ScriptOutputType.STATUS,
        new String[] {positionKey, truncates.key()},
        acknowledged.text(),
        position.text(),
        position.toString(),
        Instant.now().toString(),
        appliedText(position),
        appliedChannel);
  }

  /** A position's applied bound as the scripts take it: empty for none (an initial load's). */
  private static String appliedText(Version position) {
    return position.initialLoad() ? "" : position.appliedText();
  }

  /** Puts the position back to {@code acknowledged} if it still is the batch's. */
  private void restorePosition(Version position, Version acknowledged) {
    RedisFuture<String> restored =
        scripts.shardKey().isPresent()
            ? pipeline
                .async()
                .evalsha(
                    scripts.digest("restore_shard_position"),
                    ScriptOutputType.STATUS,
                    new String[] {positionKey},
                    position.text(),
                    acknowledged.text(),
                    acknowledged.toString(),
                    Instant.now().toString())
            : pipeline
                .async()
                .evalsha(
                    scripts.digest("restore_position"),
                    ScriptOutputType.STATUS,
                    new String[] {positionKey, truncates.key()},
                    position.text(),
                    acknowledged.text(),
                    acknowledged.toString(),
                    Instant.now().toString(),
                    appliedText(acknowledged));
    pipeline.flushCommands();
    String outcome = LettuceClients.await(restored);
    LOG.info(
        "Position {} put back to {} ({}): a write of the batch failed and is retried",
        position,
        acknowledged,
        outcome);
  }

  /** Sends an eviction or a JSON write. */
  private RedisFuture<String> send(
      RedisAsyncCommands<String, String> commands,
      CacheOperation operation,
      Map<String, CachedJson> batchJson,
      Map<String, CachedJson> cached) {
    if (operation instanceof Evict evict) {
      batchJson.remove(evict.key());
      return evict(commands, evict.key(), evict.version());
    }
    Write write = (Write) operation;
    return sendJson(commands, write, ttl(write), batchJson, cached);
  }

  /**
   * A JSON row of an initial load, through load_json.lua: guarded by the stored version like every
   * write, but with nothing to merge, so one read. Hash rows go the same way through load_hash.lua,
   * packed ({@link HashWrites}).
   */
  private Future<String> sendLoadedJson(
      RedisAsyncCommands<String, String> commands, Write write, Map<String, CachedJson> batchJson) {
    String value = JsonValueEncoder.encode(write, null).orElseThrow();
    batchJson.put(write.key(), new CachedJson(write.version().text(), value));
    return status(
        commands,
        scripts
            .call("load_json", write.key())
            .add(write.version().text())
            .add(ttl(write))
            .add(value));
  }

  private static String ttl(Write write) {
    return write.ttl().map(t -> Long.toString(t.seconds())).orElse("0");
  }

  /**
   * Hash writes gathered into calls of write_hash.lua, or of load_hash.lua for the rows of an
   * initial load (see {@link HashRowCall} and {@link #sendLoadedJson}).
   */
  private final class HashWrites {
    private final HashRowCall call = new HashRowCall();
    private final List<String> fields = new ArrayList<>();
    private String script;

    /** The packed size of the row {@link #prepare} gathered, at most. */
    private long bytes;

    /**
     * Gathers a row's fields for {@link #addPrepared}, and says, as {@link #tooLarge} would, why
     * its value is too large for Redis, or null when it is not.
     */
    String prepare(Write write) {
      String tooLarge = hashFields(write, maxValueBytes, fields);
      bytes = 64;
      for (String text : fields) {
        // At most 3 bytes a char in UTF-8, and a header each (a pair's two headers: 10).
        bytes += 3L * text.length() + 5;
      }
      return tooLarge;
    }

    /**
     * Adds the row {@link #prepare} gathered, sending the rows gathered so far first when the call
     * would grow too large.
     */
    void addPrepared(
        Write write, RedisAsyncCommands<String, String> commands, List<Future<String>> results) {
      List<String> unchanged = write.unchangedColumns();
      String rowScript = write.version().initialLoad() ? "load_hash" : "write_hash";
      if (!rowScript.equals(script)
          || !call.fits(unchanged.size(), fields.size(), bytes, maxValueBytes)) {
        send(commands, results);
      }
      script = rowScript;
      call.add(
          write.key(), write.mergeFrom(), write.version().text(), ttl(write), unchanged, fields);
    }

    /** Sends the gathered rows as one call; adds each row's outcome to {@code results}. */
    void send(RedisAsyncCommands<String, String> commands, List<Future<String>> results) {
      int rows = call.rows();
      if (rows == 0) {
        return;
      }
      CommandArgs<String, String> arguments =
          scripts.call(script, call.keys()).add(call.packedValues());
      RedisFuture<List<Object>> statuses =
          commands.dispatch(
              CommandType.EVALSHA, new NestedMultiOutput<>(StringCodec.UTF8), arguments);
      for (int row = 0; row < rows; row++) {
        results.add(new RowStatus(statuses, row));
      }
      call.clear();
    }
  }

  /**
   * One row's status in the reply of a packed script call, read from the call's own future when
   * asked: a future per row chained to the call's cost a completion per row on Lettuce's thread.
   */
  private record RowStatus(Future<List<Object>> call, int row) implements Future<String> {
    @Override
    public String get() throws InterruptedException, ExecutionException {
      return status(call.get());
    }

    @Override
    public String get(long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException {
      return status(call.get(timeout, unit));
    }

    private String status(List<Object> statuses) throws ExecutionException {
      try {
        return String.valueOf(statuses.get(row));
      } catch (RuntimeException e) {
        throw new ExecutionException(e);
      }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      return false;
    }

    @Override
    public boolean isCancelled() {
      return call.isCancelled();
    }

    @Override
    public boolean isDone() {
      return call.isDone();
    }
  }

  /** The write's key, and the key its unchanged columns come from when that is another. */
  private static String[] keys(Write write) {
    return write.mergeFrom().equals(write.key())
        ? new String[] {write.key()}
        : new String[] {write.key(), write.mergeFrom()};
  }

  private RedisFuture<String> evict(
      RedisAsyncCommands<String, String> commands, String key, Version version) {
    return status(commands, scripts.call("evict", key).add(version.text()));
  }

  /** Sends a row script's call ({@link WriterScripts#call}) whose reply is a status. */
  private static RedisFuture<String> status(
      RedisAsyncCommands<String, String> commands, CommandArgs<String, String> call) {
    return commands.dispatch(CommandType.EVALSHA, new StatusOutput<>(StringCodec.UTF8), call);
  }

  private RedisFuture<String> sendJson(
      RedisAsyncCommands<String, String> commands,
      Write write,
      String ttl,
      Map<String, CachedJson> batchJson,
      Map<String, CachedJson> cached) {
    CachedJson source = null;
    if (!write.unchangedColumns().isEmpty()) {
      // The value written earlier in this batch, or else the one Redis held before it.
      source =
          batchJson.containsKey(write.mergeFrom())
              ? batchJson.get(write.mergeFrom())
              : cached.get(write.mergeFrom());
    }
    Optional<String> encoded = JsonValueEncoder.encode(write, source);
    if (encoded.isEmpty()) {
      // Nothing to merge with: a cache miss is safe, a value without the column is not.
      batchJson.remove(write.key());
      return evict(commands, write.key(), write.version());
    }
    String value = encoded.get();
    batchJson.put(write.key(), new CachedJson(write.version().text(), value));
    return status(
        commands,
        scripts
            .call("write_json", keys(write))
            .add(write.version().text())
            .add(ttl)
            .add(value)
            .add(source == null ? "" : source.version()));
  }

  /**
   * Why a row is too large to send (a value past Redis's proto-max-bulk-len would make Redis drop
   * the connection), or null.
   */
  static String tooLarge(Write write, long maxValueBytes) {
    long bytes = 0;
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      bytes +=
          entry.getKey().length()
              + 8
              + byteLength(entry.getValue().fieldText().orElse(""), maxValueBytes);
    }
    return bytes <= maxValueBytes ? null : tooLargeMessage(bytes, maxValueBytes);
  }

  /**
   * Gathers a hash row's field names and values (NULLs left out) into {@code fields}, in one pass
   * over its columns, and says, as {@link #tooLarge} would, why its value is too large for Redis,
   * or null when it is not. The stream's batches and the initial load's bulk writer both send rows
   * this way.
   */
  static String hashFields(Write write, long maxValueBytes, List<String> fields) {
    fields.clear();
    long size = 0;
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      Optional<String> text = entry.getValue().fieldText();
      size += entry.getKey().length() + 8 + byteLength(text.orElse(""), maxValueBytes);
      if (text.isPresent()) {
        fields.add(entry.getKey());
        fields.add(text.get());
      }
    }
    return size <= maxValueBytes ? null : tooLargeMessage(size, maxValueBytes);
  }

  /** A text's length, in UTF-8 bytes where that could matter (its chars x 3 pass the limit). */
  static long byteLength(String text, long maxValueBytes) {
    return text.length() * 3L > maxValueBytes
        ? text.getBytes(StandardCharsets.UTF_8).length
        : text.length();
  }

  static String tooLargeMessage(long bytes, long maxValueBytes) {
    return "the value of about "
        + bytes
        + " bytes exceeds Redis's proto-max-bulk-len of "
        + maxValueBytes;
  }

  private BatchOutcome tally(
      List<CacheOperation> operations,
      List<Future<String>> results,
      Map<Integer, String> oversize) {
    long written = 0;
    long evicted = 0;
    List<String> failures = new ArrayList<>();
    List<CacheOperation> staleOperations = new ArrayList<>();
    List<CacheOperation> failedOperations = new ArrayList<>();
    for (int i = 0; i < operations.size(); i++) {
      CacheOperation operation = operations.get(i);
      String key = operation instanceof Write w ? w.key() : ((Evict) operation).key();
      String status;
      try {
        status = results.get(i).get(0, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        String error = String.valueOf(LettuceClients.rootCause(e).getMessage());
        if (refusedForItsTtl(error)) {
          throw new RedisUnavailableException(
              "Redis refused the ttl of table "
                  + operation.table()
                  + " ("
                  + (operation instanceof Write w ? ttl(w) : "none")
                  + " seconds) for key "
                  + DisplayText.of(key)
                  + ": "
                  + error
                  + "; every write of the table would fail alike, so nothing is evicted, the batch"
                  + " is retried and its position put back: correct the table's ttl in the"
                  + " configuration",
              e);
        }
        if (!refusedForItsValue(error)) {
          throw new RedisUnavailableException(
              "Redis failed "
                  + operation.table()
                  + " key "
                  + DisplayText.of(key)
                  + " for a reason other than its value: "
                  + error
                  + "; the batch is retried and its position put back (`cachesync validate`"
                  + " checks the Redis user's permissions and Lua support)",
              e);
        }
        // A value error inside a packed write_hash.lua call fails the whole call, rows Lua had
        // already written included: each of them is evicted here too. Safe (a cache miss), if
        // more than needed.
        failures.add(failure(operation, key, "Redis refused the value: " + error));
        failedOperations.add(operation);
        evictNow(key, operation instanceof Write w ? w.version() : ((Evict) operation).version());
        evicted++;
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RedisUnavailableException("interrupted", e);
      }
      if (oversize.containsKey(i)) {
        evicted++;
        failures.add(failure(operation, key, oversize.get(i)));
        failedOperations.add(operation);
        continue;
      }
      switch (status) {
        case "written" -> written++;
        case "evicted" -> {
          evicted++;
          if (operation instanceof Write) {
            failures.add(
                failure(operation, key, "an unchanged TOAST column had no cached value to keep"));
            failedOperations.add(operation);
          }
        }
        case "wrongtype" -> {
          // The script deleted the key.
          evicted++;
          failures.add(failure(operation, key, "the key held another Redis type"));
          failedOperations.add(operation);
        }
        case "stale" -> staleOperations.add(operation);
        default -> {}
      }
    }
    return new BatchOutcome(
        written, evicted, staleOperations.size(), failures, staleOperations, failedOperations);
  }

  /**
   * Errors a table's ttl causes (an EXPIRE or SET EX refusing it): the configuration's fault, not
   * the row's, so not {@link #refusedForItsValue}: evicting would drop every write of the table,
   * for ever.
   */
  static boolean refusedForItsTtl(String error) {
    return error.contains("invalid expire time")
        || error.contains("value is not an integer or out of range");
  }

  /**
   * Errors the value itself causes: too large a value or too many fields for Redis or its Lua
   * stack, a key of another type. Evicting the key is then the fail-safe answer (invariant 4); any
   * other error (NOPERM, a missing Lua library, NOSCRIPT, OOM, READONLY) would fail every retry
   * alike and is a Redis problem to fix, not a key to drop.
   */
  static boolean refusedForItsValue(String error) {
    return VALUE_ERRORS.stream().anyMatch(error::contains);
  }

  static final List<String> VALUE_ERRORS =
      List.of(
          "too many results to unpack",
          "stack overflow",
          "exceeds maximum allowed size",
          "proto_max_bulk_len",
          "WRONGTYPE");

  /** Evicts a key whose value Redis refused, unless a newer version is stored there. */
  /**
   * Evicts a key whose value Redis refused, on the batch's connection, so that the batch's WAIT
   * (sent again after these, see {@link #apply}) covers the eviction too.
   */
  private void evictNow(String key, Version version) {
    RedisFuture<String> evicted = evict(pipeline.async(), key, version);
    pipeline.flushCommands();
    LettuceClients.await(evicted);
    evictedAfterExec = true;
  }

  private static String failure(CacheOperation operation, String key, String reason) {
    String message =
        operation.table() + " key " + DisplayText.of(key) + ": " + reason + "; evicted";
    LOG.warn("Could not write {}", message);
    return message;
  }

  private static boolean isNoScript(Future<String> result) {
    try {
      result.get(0, TimeUnit.MILLISECONDS);
      return false;
    } catch (ExecutionException e) {
      return String.valueOf(e.getCause().getMessage()).startsWith("NOSCRIPT");
    } catch (InterruptedException | TimeoutException e) {
      return false;
    }
  }
}
