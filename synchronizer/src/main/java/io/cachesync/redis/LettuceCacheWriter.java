package io.cachesync.redis;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Reject;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.JsonText;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.BatchOutcome;
import io.cachesync.sync.CacheRolledBackException;
import io.cachesync.sync.CacheWriter;
import io.cachesync.sync.RedisUnavailableException;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies cache operations to the Redis master over one pipelined connection: each batch is one
 * MULTI/EXEC of versioned Lua scripts (write only when not older than what is stored) followed by
 * the batch's position, so the data and the position it came from are stored together.
 */
public final class LettuceCacheWriter implements CacheWriter {
  private static final Logger LOG = LoggerFactory.getLogger(LettuceCacheWriter.class);
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
          .build();
  private static final int SCAN_COUNT = 1_000;

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> pipeline;
  private final StatefulRedisConnection<String, String> direct;
  private final String positionKey;
  private final long timeoutMillis;
  private final int waitReplicas;
  private final Map<String, String> scripts = new HashMap<>();
  private final String clientName;

  /** Set when a batch failed: its connection may be gone while Redis still holds its bytes. */
  private boolean fenceNeeded;

  /** Redis's proto-max-bulk-len: a larger value would make Redis drop the connection. */
  private long maxValueBytes = 512L * 1024 * 1024;

  private LettuceCacheWriter(
      RedisClient client,
      StatefulRedisConnection<String, String> pipeline,
      StatefulRedisConnection<String, String> direct,
      String stateKeyPrefix,
      int waitReplicas,
      String clientName) {
    this.client = client;
    this.clientName = clientName;
    this.waitReplicas = waitReplicas;
    this.pipeline = pipeline;
    this.direct = direct;
    this.positionKey = stateKeyPrefix + "position";
    this.timeoutMillis = LettuceClients.COMMAND_TIMEOUT.toMillis();
    pipeline.setAutoFlushCommands(false);
  }

  /**
   * Connects to the master; the connections reconnect by themselves after a loss.
   *
   * @param stateKeyPrefix where the synchronizer's own keys live, e.g. {@code cachesync:shop:}
   */
  public static LettuceCacheWriter connect(RedisSettings settings, String stateKeyPrefix)
      throws ServerUnreachableException {
    // A name of its own, so that the writer can find its earlier connections in Redis (fence()).
    String clientName = "cachesync-writer-" + UUID.randomUUID();
    RedisClient client = LettuceClients.reconnecting(settings, clientName);
    try {
      LettuceCacheWriter writer =
          new LettuceCacheWriter(
              client,
              client.connect(),
              client.connect(),
              stateKeyPrefix,
              settings.waitReplicas(),
              clientName);
      writer.loadScripts();
      writer.readLimits();
      return writer;
    } catch (RedisConnectionException e) {
      client.shutdown();
      throw new ServerUnreachableException(
          "Redis",
          settings.redactedUri(),
          String.valueOf(LettuceClients.rootCause(e).getMessage()));
    }
  }

  private void readLimits() {
    try {
      String limit = direct.sync().configGet("proto-max-bulk-len").get("proto-max-bulk-len");
      if (limit != null) {
        maxValueBytes = Long.parseLong(limit);
      }
    } catch (RedisCommandExecutionException | NumberFormatException e) {
      LOG.info("Could not read proto-max-bulk-len ({}); assuming 512 MB", e.getMessage());
    }
  }

  /**
   * For the tests that show what the version guard prevents: with this system property set to
   * {@code true}, the scripts write whatever version is stored. Never set it in production.
   */
  public static final String UNSAFE_NO_VERSION_GUARD = "cachesync.unsafe.noVersionGuard";

  private void loadScripts() {
    boolean unguarded = Boolean.getBoolean(UNSAFE_NO_VERSION_GUARD);
    if (unguarded) {
      LOG.warn(
          "{} is set: the version guard is OFF and older data can overwrite newer data",
          UNSAFE_NO_VERSION_GUARD);
    }
    scripts.put("store_position", direct.sync().scriptLoad(resource("store_position.lua")));
    scripts.put("load_hash", direct.sync().scriptLoad(resource("load_hash.lua")));
    for (String name : List.of("write_hash", "write_json", "evict")) {
      String script = resource(name + ".lua");
      if (unguarded) {
        String unguardedScript =
            script.replace("stored > ARGV[1]", "false").replace("stored > version", "false");
        if (unguardedScript.equals(script)) {
          throw new IllegalStateException("no version guard found to switch off in " + name);
        }
        script = unguardedScript;
      }
      scripts.put(name, direct.sync().scriptLoad(script));
    }
  }

  private void reloadScripts() {
    LOG.info("Redis lost its script cache (restarted?); loading the scripts again");
    loadScripts();
  }

  static String resource(String name) {
    try (InputStream in = LettuceCacheWriter.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public BatchOutcome apply(
      List<CacheOperation> operations, Version position, Version acknowledged) {
    // A TRUNCATE's keys are found with SCAN, outside any transaction, so a batch holding one is
    // applied in parts. The part before a TRUNCATE is stored with the position just below the
    // TRUNCATE's, before its evictions run, and the TRUNCATE's own position is stored once they
    // are done: whatever happens next, Redis holds everything below the stored position and
    // nothing beyond it but (some of) the TRUNCATE's evictions, which a restart applies again.
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
      if (fenceNeeded) {
        fence();
      }
      BatchOutcome outcome = BatchOutcome.NONE;
      List<CacheOperation> segment = new ArrayList<>();
      for (int i = 0; i < operations.size(); i++) {
        CacheOperation operation = operations.get(i);
        if (operation instanceof EvictTable truncate) {
          Version before = truncate.version().justBefore();
          outcome = outcome.plus(transaction(segment, before, reached));
          reached = max(reached, before);
          done = i;
          outcome = outcome.plus(evictTable(truncate));
          transaction(List.of(), truncate.version(), reached);
          reached = max(reached, truncate.version());
          done = i + 1;
          segment.clear();
        } else if (!(operation instanceof Reject)) {
          segment.add(operation);
        }
      }
      outcome = outcome.plus(transaction(segment, position, reached));
      awaitReplicas();
      return outcome;
    } catch (RedisException e) {
      if (String.valueOf(LettuceClients.rootCause(e).getMessage()).startsWith("NOSCRIPT")) {
        try {
          reloadScripts();
        } catch (RedisException again) {
          // Still unavailable: the retry loads them.
        }
      }
      fenceNeeded = true;
      throw unavailable(e).afterApplying(done, reached);
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
    } catch (RedisCommandExecutionException e) {
      // Refused (an ACL without CLIENT): retrying is all that is left, as before this existed.
      LOG.warn(
          "Could not close this writer's earlier connections in Redis ({}): a batch delayed in the"
              + " network could still run after its retry; allow the user CLIENT LIST and CLIENT"
              + " KILL",
          e.getMessage());
    }
    fenceNeeded = false;
  }

  private void closeEarlierConnections() {
    RedisFuture<Long> pipelineId = pipeline.async().clientId();
    pipeline.flushCommands();
    long current = await(pipelineId);
    long directId = direct.sync().clientId();
    int closed = 0;
    for (String line : direct.sync().clientList().split("\n")) {
      Map<String, String> fields = new HashMap<>();
      for (String field : line.trim().split(" ")) {
        int equals = field.indexOf('=');
        if (equals > 0) {
          fields.put(field.substring(0, equals), field.substring(equals + 1));
        }
      }
      if (!clientName.equals(fields.get("name")) || !fields.containsKey("id")) {
        continue;
      }
      long id = Long.parseLong(fields.get("id"));
      if (id != current && id != directId) {
        closed += direct.sync().clientKill(KillArgs.Builder.id(id));
      }
    }
    if (closed > 0) {
      LOG.info(
          "Closed {} earlier connection(s) of this writer in Redis before applying the batch"
              + " again, so that nothing they still hold can run after it",
          closed);
    }
  }

  private static Version max(Version a, Version b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /** One MULTI/EXEC with the operations and, when given, the position stored after them. */
  private BatchOutcome transaction(
      List<CacheOperation> operations, Version position, Version acknowledged) {
    if (operations.isEmpty() && position == null) {
      return BatchOutcome.NONE;
    }
    Map<String, JsonMerge> batchJson = new HashMap<>();
    RedisAsyncCommands<String, String> commands = pipeline.async();
    commands.multi();
    List<Future<String>> results = new ArrayList<>(operations.size());
    Map<Integer, String> oversize = new HashMap<>();
    HashWrites hashes = new HashWrites();
    for (CacheOperation operation : operations) {
      String tooLarge = operation instanceof Write write ? tooLarge(write) : null;
      if (tooLarge != null) {
        // Sending it would make Redis drop the connection and stall the stream for good.
        hashes.send(commands, results);
        oversize.put(results.size(), tooLarge);
        Write write = (Write) operation;
        batchJson.remove(write.key());
        results.add(evict(commands, write.key(), write.version()));
      } else if (operation instanceof Write write && write.format() == ValueFormat.HASH) {
        hashes.add(write, commands, results);
      } else if (operation instanceof Write write && write.version().initialLoad()) {
        hashes.send(commands, results);
        results.add(sendLoadedJson(commands, write, batchJson));
      } else {
        // In order: everything sent before this operation executes before it.
        hashes.send(commands, results);
        results.add(send(commands, operation, batchJson));
      }
    }
    hashes.send(commands, results);
    RedisFuture<String> stored =
        position == null
            ? null
            : commands.evalsha(
                scripts.get("store_position"),
                ScriptOutputType.STATUS,
                new String[] {positionKey},
                acknowledged.text(),
                position.text(),
                position.toString(),
                Instant.now().toString());
    RedisFuture<TransactionResult> exec = commands.exec();
    pipeline.flushCommands();
    TransactionResult result = await(exec);
    if (result.wasDiscarded()) {
      throw new RedisUnavailableException("Redis discarded the batch's transaction", null);
    }
    if (results.stream().anyMatch(LettuceCacheWriter::isNoScript)
        || (stored != null && isNoScript(stored))) {
      reloadScripts();
      return transaction(operations, position, acknowledged);
    }
    String storedOutcome = stored == null ? "" : await(stored);
    if (storedOutcome.startsWith("behind:")) {
      throw new CacheRolledBackException(acknowledged, storedOutcome.substring("behind:".length()));
    }
    return tally(operations, results, oversize);
  }

  /** Sends an eviction or a JSON write. */
  private RedisFuture<String> send(
      RedisAsyncCommands<String, String> commands,
      CacheOperation operation,
      Map<String, JsonMerge> batchJson) {
    if (operation instanceof Evict evict) {
      batchJson.remove(evict.key());
      return evict(commands, evict.key(), evict.version());
    }
    Write write = (Write) operation;
    return sendJson(commands, write, ttl(write), batchJson);
  }

  /**
   * A JSON row of an initial load, written without the version guard: plain commands cost Redis a
   * fraction of a script, and the guard has nothing to protect here. The load runs before the
   * stream starts, on a replication slot created for it, so no streamed change can be in Redis yet
   * for its rows, and every version Redis holds (from before the slot was made) is older than the
   * load's. A stale daemon's late write still meets the guard of its own script. Hash rows go the
   * same way through load_hash.lua, packed ({@link HashWrites}).
   */
  private Future<String> sendLoadedJson(
      RedisAsyncCommands<String, String> commands, Write write, Map<String, JsonMerge> batchJson) {
    commands.del(write.key());
    StringBuilder json = new StringBuilder(64 + 16 * write.values().size());
    json.append("{\"__v\":\"").append(write.version().text()).append('"');
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      json.append(',');
      JsonText.appendQuoted(json, entry.getKey());
      json.append(':').append(entry.getValue().jsonText());
    }
    String value = json.append('}').toString();
    batchJson.put(write.key(), new JsonMerge(write.version().text(), value));
    String ttl = ttl(write);
    RedisFuture<String> written =
        ttl.equals("0")
            ? commands.set(write.key(), value)
            : commands.setex(write.key(), Long.parseLong(ttl), value);
    return written.toCompletableFuture().thenApply(ignored -> "written");
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

    /** Adds a row, sending the rows gathered so far first when the call would grow too large. */
    void add(
        Write write, RedisAsyncCommands<String, String> commands, List<Future<String>> results) {
      fields.clear();
      long bytes = 64;
      for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
        Optional<String> text = entry.getValue().fieldText();
        if (text.isPresent()) {
          fields.add(entry.getKey());
          fields.add(text.get());
          // At most 3 bytes a char in UTF-8, and a header each.
          bytes += 3L * (entry.getKey().length() + text.get().length()) + 10;
        }
      }
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
          new CommandArgs<>(StringCodec.UTF8)
              .add(scripts.get(script))
              .add(2L * rows)
              .addKeys(call.keys())
              .add(call.packedValues());
      RedisFuture<List<Object>> statuses =
          commands.dispatch(
              CommandType.EVALSHA, new NestedMultiOutput<>(StringCodec.UTF8), arguments);
      for (int row = 0; row < rows; row++) {
        int index = row;
        results.add(
            statuses.toCompletableFuture().thenApply(list -> String.valueOf(list.get(index))));
      }
      call.clear();
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
    return commands.evalsha(
        scripts.get("evict"), ScriptOutputType.STATUS, new String[] {key}, version.text());
  }

  /**
   * A JSON value, to merge unchanged TOAST columns from: the value written earlier in the same
   * batch, or else the one Redis holds.
   *
   * @param version the version stored with it; the merged write applies only if it still is
   */
  private record JsonMerge(String version, String text) {
    JsonNode member(String column) {
      try {
        return JSON.readTree(text).get(column);
      } catch (IOException e) {
        return null;
      }
    }
  }

  private RedisFuture<String> sendJson(
      RedisAsyncCommands<String, String> commands,
      Write write,
      String ttl,
      Map<String, JsonMerge> batchJson) {
    JsonMerge source = null;
    if (!write.unchangedColumns().isEmpty()) {
      source =
          batchJson.containsKey(write.mergeFrom())
              ? batchJson.get(write.mergeFrom())
              : cachedJson(write.mergeFrom());
    }
    StringBuilder json = new StringBuilder(64 + 16 * write.values().size());
    json.append("{\"__v\":\"").append(write.version().text()).append('"');
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      String text;
      if (entry.getValue() instanceof ColumnValue.Unchanged) {
        JsonNode kept = source == null ? null : source.member(entry.getKey());
        if (kept == null) {
          // Nothing to merge with: a cache miss is safe, a value without the column is not.
          batchJson.remove(write.key());
          return evict(commands, write.key(), write.version());
        }
        text = kept.toString();
      } else {
        text = entry.getValue().jsonText();
      }
      json.append(',');
      JsonText.appendQuoted(json, entry.getKey());
      json.append(':').append(text);
    }
    String value = json.append('}').toString();
    batchJson.put(write.key(), new JsonMerge(write.version().text(), value));
    return commands.evalsha(
        scripts.get("write_json"),
        ScriptOutputType.STATUS,
        keys(write),
        write.version().text(),
        ttl,
        value,
        source == null ? "" : source.version());
  }

  /** The JSON value Redis holds at {@code key}, or null when there is none to merge with. */
  private JsonMerge cachedJson(String key) {
    try {
      String cached = direct.sync().get(key);
      if (cached == null) {
        return null;
      }
      JsonNode version = JSON.readTree(cached).get("__v");
      return version == null ? null : new JsonMerge(version.asText(), cached);
    } catch (RedisCommandExecutionException | IOException e) {
      return null;
    }
  }

  /** Why a write's value is too large for Redis, or null when it is not. */
  private String tooLarge(Write write) {
    long bytes = 0;
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      String text = entry.getValue().fieldText().orElse("");
      bytes +=
          entry.getKey().length()
              + 8
              + (text.length() * 3L > maxValueBytes
                  ? text.getBytes(StandardCharsets.UTF_8).length
                  : text.length());
    }
    if (bytes <= maxValueBytes) {
      return null;
    }
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
    long stale = 0;
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < operations.size(); i++) {
      CacheOperation operation = operations.get(i);
      String key = operation instanceof Write w ? w.key() : ((Evict) operation).key();
      String status;
      try {
        status = results.get(i).get(0, TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        failures.add(
            failure(
                operation,
                key,
                "Redis refused the write: " + LettuceClients.rootCause(e).getMessage()));
        direct.sync().del(key);
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RedisUnavailableException("interrupted", e);
      }
      if (oversize.containsKey(i)) {
        evicted++;
        failures.add(failure(operation, key, oversize.get(i)));
        continue;
      }
      switch (status) {
        case "written" -> written++;
        case "evicted" -> {
          evicted++;
          if (operation instanceof Write) {
            failures.add(
                failure(operation, key, "an unchanged TOAST column had no cached value to keep"));
          }
        }
        case "wrongtype" ->
            failures.add(failure(operation, key, "the key held another Redis type"));
        case "stale" -> stale++;
        default -> {}
      }
    }
    return new BatchOutcome(written, evicted, stale, failures);
  }

  private static String failure(CacheOperation operation, String key, String reason) {
    String message = operation.table() + " key " + key + ": " + reason + "; evicted";
    LOG.warn("Could not write {}", message);
    return message;
  }

  /** Evicts a truncated table's keys: those under its prefix not written after the TRUNCATE. */
  private BatchOutcome evictTable(EvictTable truncate) {
    RedisCommands<String, String> sync = direct.sync();
    ScanArgs match =
        ScanArgs.Builder.matches(globEscape(truncate.keyPrefix()) + "*").limit(SCAN_COUNT);
    long evicted = 0;
    long stale = 0;
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      var page = sync.scan(cursor, match);
      List<RedisFuture<String>> results = new ArrayList<>(page.getKeys().size());
      for (String key : page.getKeys()) {
        results.add(
            pipeline
                .async()
                .evalsha(
                    scripts.get("evict"),
                    ScriptOutputType.STATUS,
                    new String[] {key},
                    truncate.version().text()));
      }
      pipeline.flushCommands();
      for (RedisFuture<String> result : results) {
        String status = await(result);
        if (status.equals("evicted")) {
          evicted++;
        } else if (status.equals("stale")) {
          stale++;
        }
      }
      cursor = page;
    } while (!cursor.isFinished());
    LOG.info(
        "TRUNCATE of {}: evicted {} keys under '{}'",
        truncate.table(),
        evicted,
        truncate.keyPrefix());
    return new BatchOutcome(0, evicted, stale, List.of());
  }

  /** Escapes the glob characters of a literal key prefix for SCAN MATCH. */
  static String globEscape(String literal) {
    StringBuilder escaped = new StringBuilder(literal.length() + 4);
    for (char c : literal.toCharArray()) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
        escaped.append('\\');
      }
      escaped.append(c);
    }
    return escaped.toString();
  }

  @Override
  public Optional<Version> position() {
    try {
      return Optional.ofNullable(direct.sync().hget(positionKey, "version")).map(Version::parse);
    } catch (RedisException e) {
      throw unavailable(e);
    }
  }

  /**
   * Waits until {@link #waitReplicas} replicas acknowledged every write of this connection (WAIT),
   * so that a batch is confirmed to PostgreSQL only once a replica holds it too.
   */
  private void awaitReplicas() {
    if (waitReplicas == 0) {
      return;
    }
    RedisFuture<Long> acknowledged =
        pipeline.async().waitForReplication(waitReplicas, LettuceClients.WAIT_REPLICAS.toMillis());
    pipeline.flushCommands();
    LettuceClients.requireReplicas(await(acknowledged), waitReplicas, "the batch");
  }

  private <T> T await(RedisFuture<T> future) {
    try {
      return future.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisUnavailableException("interrupted while waiting for Redis", e);
    } catch (ExecutionException e) {
      throw unavailable(e.getCause());
    } catch (TimeoutException e) {
      throw new RedisUnavailableException(
          "Redis did not answer within " + timeoutMillis + " ms", e);
    }
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

  private static RedisUnavailableException unavailable(Throwable cause) {
    return new RedisUnavailableException(
        "Redis cannot take writes: " + LettuceClients.rootCause(cause).getMessage(), cause);
  }

  @Override
  public void close() {
    pipeline.close();
    direct.close();
    client.shutdown();
  }
}
