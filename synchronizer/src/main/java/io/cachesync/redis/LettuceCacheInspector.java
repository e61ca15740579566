package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * What the resync and verify jobs read from and delete in Redis: the keys under a prefix, their
 * versions and values, and guarded evictions that never delete a value the stream rewrote since it
 * was looked at.
 */
public final class LettuceCacheInspector implements AutoCloseable {
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final String versionScript;
  private final String evictScript;

  private LettuceCacheInspector(
      RedisClient client, StatefulRedisConnection<String, String> connection) {
    this.client = client;
    this.connection = connection;
    this.versionScript = connection.sync().scriptLoad(LettuceCacheWriter.resource("version.lua"));
    this.evictScript = connection.sync().scriptLoad(LettuceCacheWriter.resource("evict.lua"));
  }

  public static LettuceCacheInspector connect(RedisSettings settings)
      throws ServerUnreachableException {
    RedisClient client = LettuceClients.reconnecting(settings);
    try {
      return new LettuceCacheInspector(client, client.connect());
    } catch (RuntimeException e) {
      // Whatever failed (the connection, a refused SCRIPT LOAD), the client goes with it.
      client.shutdown();
      if (e instanceof RedisConnectionException) {
        throw LettuceClients.connectFailed(settings, e);
      }
      throw e;
    }
  }

  /**
   * Hands the keys {@code glob} matches to {@code page}, a SCAN page at a time.
   *
   * @param glob a pattern built by the model ({@code KeyTemplate.prefixGlob()}), which escapes what
   *     it embeds
   */
  public void scan(String glob, int count, Consumer<List<String>> page) {
    scanWhile(
        glob,
        count,
        keys -> {
          page.accept(keys);
          return true;
        });
  }

  /**
   * As {@link #scan}, until {@code page} returns false: the SCAN stops there, so that a sample
   * reads no more of the key space than it checks.
   */
  public void scanWhile(String glob, int count, java.util.function.Predicate<List<String>> page) {
    ScanArgs match = ScanArgs.Builder.matches(glob).limit(count);
    KeyScanCursor<String> keys = connection.sync().scan(ScanCursor.INITIAL, match);
    while (true) {
      // The next page is asked for before this one is handled, so that its round trip overlaps
      // the handling (a lookup in PostgreSQL) instead of following it.
      RedisFuture<KeyScanCursor<String>> next =
          keys.isFinished() ? null : connection.async().scan(keys, match);
      if (!keys.getKeys().isEmpty() && !page.test(keys.getKeys())) {
        return;
      }
      if (next == null) {
        return;
      }
      keys = await(next);
    }
  }

  /**
   * A reader of cached values in pipelined batches, on a connection of its own (the caller closes
   * it before this inspector).
   */
  public LettuceCacheReader openReader() {
    return new LettuceCacheReader(client.connect());
  }

  /** The version at each key: its 32 hex digits, '' for a value without one, '-' for no key. */
  public List<String> versions(List<String> keys) {
    return connection
        .sync()
        .evalsha(versionScript, ScriptOutputType.MULTI, keys.toArray(String[]::new));
  }

  /** Redis's reply, waited for as long as a command may take (the connection's timeout). */
  private <T> T await(RedisFuture<T> reply) {
    return io.lettuce.core.LettuceFutures.awaitOrCancel(
        reply, connection.getTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  /** The number of keys in the database (DBSIZE). */
  public long keyCount() {
    return connection.sync().dbsize();
  }

  /**
   * Counts the keys {@code glob} matches that {@code counted} accepts, by a SCAN of the whole
   * keyspace; gives up when {@code deadline} ({@link System#nanoTime()}) passes.
   *
   * @param glob a pattern built by the model ({@code KeyTemplate.prefixGlob()})
   * @return empty when the deadline passed first
   */
  public java.util.OptionalLong countKeys(
      String glob, java.util.function.Predicate<String> counted, long deadline) {
    ScanArgs match = ScanArgs.Builder.matches(glob).limit(1000);
    ScanCursor cursor = ScanCursor.INITIAL;
    long count = 0;
    do {
      if (System.nanoTime() - deadline > 0) {
        return java.util.OptionalLong.empty();
      }
      KeyScanCursor<String> keys = connection.sync().scan(cursor, match);
      count += keys.getKeys().stream().filter(counted).count();
      cursor = keys;
    } while (!cursor.isFinished());
    return java.util.OptionalLong.of(count);
  }

  /**
   * {@code count} keys drawn at random (RANDOMKEY, pipelined), with repeats; fewer when the
   * database is empty.
   */
  public List<String> randomKeys(int count) {
    List<RedisFuture<String>> replies = new ArrayList<>(count);
    var async = connection.async();
    connection.setAutoFlushCommands(false);
    try {
      for (int i = 0; i < count; i++) {
        replies.add(async.randomkey());
      }
      connection.flushCommands();
    } finally {
      connection.setAutoFlushCommands(true);
    }
    List<String> keys = new ArrayList<>(count);
    for (RedisFuture<String> reply : replies) {
      try {
        String key = reply.get(10, TimeUnit.SECONDS);
        if (key != null) {
          keys.add(key);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      } catch (ExecutionException | TimeoutException e) {
        throw new IllegalStateException("Redis did not answer RANDOMKEY: " + e.getMessage(), e);
      }
    }
    return keys;
  }

  public String type(String key) {
    return connection.sync().type(key);
  }

  public Map<String, String> hash(String key) {
    return connection.sync().hgetall(key);
  }

  public String get(String key) {
    return connection.sync().get(key);
  }

  /**
   * Deletes each key unless it now holds a newer version than the one seen: a key the stream
   * rewrote in the meantime is kept, also one seen without a version (evict.lua).
   *
   * @param seen each key with the version read from it ('' for a value without one)
   * @return how many keys were deleted
   */
  public long evict(Map<String, String> seen) {
    return evict(seen, null, 0);
  }

  /**
   * As {@link #evict(Map)}, for the keys an orphan sweep found: each is deleted only while the
   * synchronizer's position (the {@code applied} of {@code <stateKeyPrefix>position}) is at or past
   * {@code fence}, in the same script, so that the stream has applied every change committed before
   * the keys' rows were found gone (see evict.lua).
   *
   * @throws IllegalStateException when the position is before the fence (a failover rolled it back,
   *     or a TRUNCATE's evictions still hold it back): the keys left are for a later sweep
   */
  public long evictBehindTheStream(Map<String, String> seen, String stateKeyPrefix, long fence) {
    return evict(seen, stateKeyPrefix + "position", fence);
  }

  /**
   * @param positionKey null, or the position hash whose {@code applied} must be at or past {@code
   *     fence} (see evict.lua)
   */
  private long evict(Map<String, String> seen, String positionKey, long fence) {
    String fenceText = String.format(java.util.Locale.ROOT, "%016x", fence);
    List<RedisFuture<String>> results = new ArrayList<>(seen.size());
    var async = connection.async();
    connection.setAutoFlushCommands(false);
    try {
      seen.forEach(
          (key, version) ->
              results.add(
                  positionKey == null
                      ? async.evalsha(
                          evictScript, ScriptOutputType.STATUS, new String[] {key}, version)
                      : async.evalsha(
                          evictScript,
                          ScriptOutputType.STATUS,
                          new String[] {key, positionKey},
                          version,
                          fenceText)));
      connection.flushCommands();
    } finally {
      connection.setAutoFlushCommands(true);
    }
    long evicted = 0;
    long behind = 0;
    for (RedisFuture<String> result : results) {
      try {
        String outcome = result.get(10, TimeUnit.SECONDS);
        if ("evicted".equals(outcome)) {
          evicted++;
        } else if ("behind".equals(outcome)) {
          behind++;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      } catch (ExecutionException | TimeoutException e) {
        throw new IllegalStateException("Redis did not evict: " + e.getMessage(), e);
      }
    }
    if (behind > 0) {
      throw new IllegalStateException(
          behind
              + " orphan keys not removed ("
              + evicted
              + " were): the position applied in Redis ("
              + positionKey
              + " applied) is before "
              + io.cachesync.model.Version.lsnText(fence)
              + ", which they wait for (a failover lost batches the stream had applied, or a"
              + " TRUNCATE's evictions still run)");
    }
    return evicted;
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
