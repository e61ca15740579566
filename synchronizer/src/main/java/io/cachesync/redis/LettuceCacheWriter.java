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
import io.cachesync.sync.CacheWriter;
import io.cachesync.sync.RedisUnavailableException;
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
import java.util.concurrent.ExecutionException;
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
  private final Map<String, String> scripts = new HashMap<>();

  /** Redis's proto-max-bulk-len: a larger value would make Redis drop the connection. */
  private long maxValueBytes = 512L * 1024 * 1024;

  private LettuceCacheWriter(
      RedisClient client,
      StatefulRedisConnection<String, String> pipeline,
      StatefulRedisConnection<String, String> direct,
      String stateKeyPrefix) {
    this.client = client;
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
    RedisClient client = LettuceClients.reconnecting(settings);
    try {
      LettuceCacheWriter writer =
          new LettuceCacheWriter(client, client.connect(), client.connect(), stateKeyPrefix);
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

  private void loadScripts() {
    for (String name : List.of("write_hash", "write_json", "evict")) {
      scripts.put(name, direct.sync().scriptLoad(resource(name + ".lua")));
    }
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
  public BatchOutcome apply(List<CacheOperation> operations, Version position) {
    try {
      BatchOutcome outcome = BatchOutcome.NONE;
      List<CacheOperation> segment = new ArrayList<>();
      for (CacheOperation operation : operations) {
        if (operation instanceof EvictTable truncate) {
          outcome = outcome.plus(transaction(segment, null)).plus(evictTable(truncate));
          segment.clear();
        } else if (!(operation instanceof Reject)) {
          segment.add(operation);
        }
      }
      return outcome.plus(transaction(segment, position));
    } catch (RedisException e) {
      throw unavailable(e);
    }
  }

  /** One MULTI/EXEC with the operations and, when given, the position stored after them. */
  private BatchOutcome transaction(List<CacheOperation> operations, Version position) {
    if (operations.isEmpty() && position == null) {
      return BatchOutcome.NONE;
    }
    Map<String, JsonMerge> batchJson = new HashMap<>();
    RedisAsyncCommands<String, String> commands = pipeline.async();
    commands.multi();
    List<RedisFuture<String>> results = new ArrayList<>(operations.size());
    Map<Integer, String> oversize = new HashMap<>();
    for (CacheOperation operation : operations) {
      String tooLarge = operation instanceof Write write ? tooLarge(write) : null;
      if (tooLarge != null) {
        // Sending it would make Redis drop the connection and stall the stream for good.
        oversize.put(results.size(), tooLarge);
        Write write = (Write) operation;
        batchJson.remove(write.key());
        results.add(evict(commands, write.key(), write.version()));
        continue;
      }
      results.add(send(commands, operation, batchJson));
    }
    if (position != null) {
      commands.hset(
          positionKey,
          Map.of(
              "version",
              position.text(),
              "lsn",
              position.toString(),
              "at",
              Instant.now().toString()));
    }
    RedisFuture<TransactionResult> exec = commands.exec();
    pipeline.flushCommands();
    TransactionResult result = await(exec);
    if (result.wasDiscarded()) {
      throw new RedisUnavailableException("Redis discarded the batch's transaction", null);
    }
    if (results.stream().anyMatch(LettuceCacheWriter::isNoScript)) {
      LOG.info("Redis lost its script cache (restarted?); loading the scripts again");
      loadScripts();
      return transaction(operations, position);
    }
    return tally(operations, results, oversize);
  }

  private RedisFuture<String> send(
      RedisAsyncCommands<String, String> commands,
      CacheOperation operation,
      Map<String, JsonMerge> batchJson) {
    if (operation instanceof Evict evict) {
      batchJson.remove(evict.key());
      return evict(commands, evict.key(), evict.version());
    }
    Write write = (Write) operation;
    String ttl = write.ttl().map(t -> Long.toString(t.seconds())).orElse("0");
    if (write.format() == ValueFormat.JSON) {
      return sendJson(commands, write, ttl, batchJson);
    }
    List<String> unchanged = write.unchangedColumns();
    List<String> arguments = new ArrayList<>(3 + unchanged.size() + 2 * write.values().size());
    arguments.add(write.version().text());
    arguments.add(ttl);
    arguments.add(Integer.toString(unchanged.size()));
    arguments.addAll(unchanged);
    write
        .values()
        .forEach(
            (column, value) ->
                value
                    .fieldText()
                    .ifPresent(
                        text -> {
                          arguments.add(column);
                          arguments.add(text);
                        }));
    return commands.evalsha(
        scripts.get("write_hash"),
        ScriptOutputType.STATUS,
        keys(write),
        arguments.toArray(String[]::new));
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
      List<RedisFuture<String>> results,
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

  private static boolean isNoScript(RedisFuture<String> result) {
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
