package io.cachesync.redis;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.Version;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads cached values a batch at a time on a connection of its own: a batch's commands (HGETALL for
 * a hash table, GET for a json one) leave in one write, and several batches may be in flight while
 * the caller prepares the next. One thread uses a reader: it sends a batch, then later waits for
 * it, in the order it sent them.
 *
 * <p>On a Redis Cluster the connection routes each command to the master of its key's slot, and one
 * flush sends what waits for every node. A command Redis redirects (MOVED, ASK: its slot moved
 * since the client last read the topology), or one for a node whose connection was still being made
 * when the batch was flushed, is written to that node's buffer after the flush, where it would wait
 * for the next one: while waiting for its replies, the reader flushes again every {@link
 * #FLUSH_AGAIN_MILLIS} ms.
 */
public final class LettuceCacheReader implements AutoCloseable {
  private static final long TIMEOUT_SECONDS = LettuceClients.COMMAND_TIMEOUT.toSeconds();

  /** How long a reader of a cluster waits for a reply before it flushes again. */
  private static final long FLUSH_AGAIN_MILLIS = 20;

  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> async;
  private final boolean cluster;

  LettuceCacheReader(StatefulRedisConnection<String, String> connection) {
    this(connection, connection.async(), false);
  }

  LettuceCacheReader(StatefulRedisClusterConnection<String, String> connection) {
    this(connection, connection.async(), true);
  }

  private LettuceCacheReader(
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> async,
      boolean cluster) {
    this.connection = connection;
    this.async = async;
    this.cluster = cluster;
    connection.setAutoFlushCommands(false);
  }

  /** A batch sent: its values, in the order of its keys, once {@link #values()} is called. */
  public final class Batch {
    private final List<String> keys;
    private final List<RedisFuture<?>> replies;
    private final boolean hash;

    private Batch(List<String> keys, boolean hash, List<String[]> expected) {
      this.keys = keys;
      this.hash = hash;
      this.replies = new ArrayList<>(keys.size());
      for (int i = 0; i < keys.size(); i++) {
        String key = keys.get(i);
        if (expected != null) {
          replies.add(
              async.dispatch(
                  CommandType.HGETALL,
                  new ExpectedHashOutput(ExpectedHashOutput.utf8(expected.get(i))),
                  new CommandArgs<>(StringCodec.UTF8).addKey(key)));
        } else {
          replies.add(hash ? async.hgetall(key) : async.get(key));
        }
      }
      connection.flushCommands();
    }

    /** Waits for the replies; a key of another type than the format's is asked its TYPE. */
    @SuppressWarnings("unchecked")
    public List<CachedValue> values() {
      List<CachedValue> values = new ArrayList<>(keys.size());
      List<Integer> otherType = new ArrayList<>();
      for (int i = 0; i < replies.size(); i++) {
        try {
          Object reply = reply(replies.get(i));
          values.add(
              reply instanceof CachedValue compared
                  ? compared
                  : hash
                      ? CachedValue.hash((java.util.Map<String, String>) reply)
                      : CachedValue.string((String) reply));
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof RedisCommandExecutionException refused)
              || refused.getMessage() == null
              || !refused.getMessage().startsWith("WRONGTYPE")) {
            throw new IllegalStateException("Redis did not answer: " + e.getCause(), e);
          }
          otherType.add(i);
          values.add(null);
        } catch (TimeoutException e) {
          throw new IllegalStateException("Redis did not answer in time", e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted", e);
        }
      }
      if (!otherType.isEmpty()) {
        List<RedisFuture<String>> types = new ArrayList<>(otherType.size());
        otherType.forEach(i -> types.add(async.type(keys.get(i))));
        connection.flushCommands();
        for (int j = 0; j < otherType.size(); j++) {
          values.set(otherType.get(j), CachedValue.other(await(types.get(j))));
        }
      }
      return values;
    }
  }

  /**
   * Sends one batch: HGETALL of each key when {@code hash}, GET otherwise.
   *
   * @param keys the keys, which the batch keeps: the caller does not change them afterwards
   */
  public Batch send(List<String> keys, boolean hash) {
    return new Batch(keys, hash, null);
  }

  /**
   * Sends one batch of HGETALL, each reply compared as it arrives with the fields its key should
   * hold (see {@link ExpectedHashOutput}): a hash that holds them in order is read as {@link
   * CachedValue#asExpected()}, any other as {@link #send} reads it.
   *
   * @param expected for each key, its field names and values alternately, in the order the writer
   *     stores them
   */
  public Batch sendHashes(List<String> keys, List<String[]> expected) {
    if (keys.size() != expected.size()) {
      throw new IllegalArgumentException(keys.size() + " keys, " + expected.size() + " hashes");
    }
    return new Batch(keys, true, expected);
  }

  /**
   * The fields the writer stores for {@code write}, names and texts alternately, in the order it
   * stores them ({@link BatchTransaction#hashFields}): what {@link #sendHashes} compares with.
   */
  public static String[] storedFields(CacheOperation.Write write) {
    List<String> fields = new ArrayList<>(2 * write.values().size());
    BatchTransaction.hashFields(write, Long.MAX_VALUE, fields);
    return fields.toArray(String[]::new);
  }

  /**
   * Whether {@code text} is exactly the JSON value the writer stores for {@code write} ({@link
   * JsonValueEncoder#encode}), with any version of the writer's form, 32 hex digits: decided
   * without parsing JSON. A version of another form (an escape, a control character) may leave the
   * text no JSON at all, and is not taken.
   */
  public static boolean writtenJson(CacheOperation.Write write, String text) {
    String written = JsonValueEncoder.encode(write, null).orElse(null);
    if (written == null || written.length() != text.length()) {
      return false;
    }
    int version = JsonValueEncoder.VERSION_MEMBER.length();
    int end = version + Version.TEXT_LENGTH;
    if (!text.regionMatches(0, written, 0, version)
        || !text.regionMatches(end, written, end, written.length() - end)) {
      return false;
    }
    for (int i = version; i < end; i++) {
      if (Character.digit(text.charAt(i), 16) < 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The reply, waited for at most {@link #TIMEOUT_SECONDS}; on a cluster, flushing again while it
   * does not come (see the class comment).
   */
  private <T> T reply(RedisFuture<T> reply)
      throws ExecutionException, TimeoutException, InterruptedException {
    if (!cluster) {
      return reply.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
    while (true) {
      try {
        return reply.get(FLUSH_AGAIN_MILLIS, TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        if (System.nanoTime() - deadline > 0) {
          throw e;
        }
        connection.flushCommands();
      }
    }
  }

  private <T> T await(RedisFuture<T> reply) {
    try {
      return reply(reply);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("Redis did not answer: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  @Override
  public void close() {
    connection.close();
  }
}
