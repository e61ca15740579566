package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.redis.ClusterTopology.Master;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * What the resync and verify jobs read from and delete in Redis: the keys under a prefix, their
 * versions and values, and guarded evictions that never delete a value the stream rewrote since it
 * was looked at.
 *
 * <p>On a Redis Cluster ({@code redis-cluster://}) the same, with what a cluster changes: walks of
 * the keyspace scan every master and scan again the masters that slots moved to meanwhile (see
 * {@link ClusterKeyspace}); a script runs on the keys of one slot at a time, as Redis refuses one
 * whose keys hash to several (CROSSSLOT); the key count is the masters' sum; and the sweep's fence
 * is checked apart from the deletes (see {@link #evictBehindTheStream}). A script is called by its
 * digest, and sent whole when a node does not know it yet (a promoted replica, a restarted master),
 * as loading it up front would need every node, a failed one too, to answer.
 */
public final class LettuceCacheInspector implements AutoCloseable {
  private static final String VERSION_LUA = LettuceCacheWriter.resource("version.lua");
  private static final String EVICT_LUA = LettuceCacheWriter.resource("evict.lua");

  /** On one master (or through Sentinel); null on a cluster. */
  private final RedisClient client;

  /** On one master (or through Sentinel); null on a cluster. */
  private final StatefulRedisConnection<String, String> connection;

  /** On a cluster; null otherwise. */
  private final Cluster cluster;

  /** Commands of one key, routed to the key's master on a cluster. */
  private final RedisClusterCommands<String, String> commands;

  private final String versionScript;
  private final String evictScript;

  /** The client, its routing connection, and the keyspace read master by master. */
  private record Cluster(
      RedisClusterClient client,
      StatefulRedisClusterConnection<String, String> connection,
      ClusterKeyspace keyspace) {}

  private LettuceCacheInspector(
      RedisClient client, StatefulRedisConnection<String, String> connection) {
    this.client = client;
    this.connection = connection;
    this.cluster = null;
    this.commands = connection.sync();
    this.versionScript = connection.sync().scriptLoad(VERSION_LUA);
    this.evictScript = connection.sync().scriptLoad(EVICT_LUA);
  }

  private LettuceCacheInspector(
      RedisClusterClient client, StatefulRedisClusterConnection<String, String> connection) {
    this.client = null;
    this.connection = null;
    this.cluster = new Cluster(client, connection, new ClusterKeyspace(client, connection));
    this.commands = connection.sync();
    this.versionScript = commands.digest(VERSION_LUA);
    this.evictScript = commands.digest(EVICT_LUA);
  }

  public static LettuceCacheInspector connect(RedisSettings settings)
      throws ServerUnreachableException {
    if (settings.cluster()) {
      return connectCluster(settings);
    }
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

  private static LettuceCacheInspector connectCluster(RedisSettings settings)
      throws ServerUnreachableException {
    RedisClusterClient client = LettuceClients.cluster(settings);
    try {
      return new LettuceCacheInspector(client, client.connect());
    } catch (RuntimeException e) {
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
   *
   * <p>On a cluster every master is scanned, and scanned again when slots moved to it during the
   * walk or it took over from another (see {@link ClusterKeyspace}): every key that exists for the
   * whole walk is handed over, some more than once.
   */
  public void scanWhile(String glob, int count, java.util.function.Predicate<List<String>> page) {
    if (cluster != null) {
      cluster.keyspace().walk(glob, count, page::test);
      return;
    }
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
    if (cluster != null) {
      return new LettuceCacheReader(cluster.client().connect());
    }
    return new LettuceCacheReader(client.connect());
  }

  /** The version at each key: its 32 hex digits, '' for a value without one, '-' for no key. */
  public List<String> versions(List<String> keys) {
    if (cluster != null) {
      return clusterVersions(keys);
    }
    return connection
        .sync()
        .evalsha(versionScript, ScriptOutputType.MULTI, keys.toArray(String[]::new));
  }

  /** Redis's reply, waited for as long as a command may take (the connection's timeout). */
  private <T> T await(RedisFuture<T> reply) {
    return io.lettuce.core.LettuceFutures.awaitOrCancel(
        reply, connection.getTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * On a cluster, each key's version by one script per slot (a script's keys must share one), all
   * sent at once; a slot whose keys are half moved (TRYAGAIN) is asked one key at a time, which
   * Redis sends on to the node that has the key.
   */
  private List<String> clusterVersions(List<String> keys) {
    Map<Integer, List<Integer>> bySlot = new LinkedHashMap<>();
    for (int i = 0; i < keys.size(); i++) {
      bySlot.computeIfAbsent(SlotHash.getSlot(keys.get(i)), slot -> new ArrayList<>()).add(i);
    }
    Map<List<Integer>, CompletionStage<List<String>>> calls = new LinkedHashMap<>();
    bySlot.values().forEach(group -> calls.put(group, versionCall(keysAt(keys, group))));
    String[] versions = new String[keys.size()];
    calls.forEach(
        (group, call) -> {
          List<String> found;
          try {
            found = awaitCluster(call);
          } catch (RedisCommandExecutionException e) {
            if (!String.valueOf(e.getMessage()).startsWith("TRYAGAIN")) {
              throw e;
            }
            found = new ArrayList<>();
            for (String key : keysAt(keys, group)) {
              found.add(this.<List<String>>awaitCluster(versionCall(new String[] {key})).get(0));
            }
          }
          for (int j = 0; j < group.size(); j++) {
            versions[group.get(j)] = found.get(j);
          }
        });
    return List.of(versions);
  }

  private CompletionStage<List<String>> versionCall(String[] keys) {
    return script(VERSION_LUA, versionScript, ScriptOutputType.MULTI, keys);
  }

  private static String[] keysAt(List<String> keys, List<Integer> indexes) {
    return indexes.stream().map(keys::get).toArray(String[]::new);
  }

  /**
   * A script sent to a cluster, routed by its first key: by its digest, then whole if the node
   * answers NOSCRIPT (EVAL caches it there for the next call).
   */
  private <T> CompletionStage<T> script(
      String text, String digest, ScriptOutputType type, String[] keys, String... arguments) {
    RedisClusterAsyncCommands<String, String> async = cluster.connection().async();
    RedisFuture<T> called = async.evalsha(digest, type, keys, arguments);
    return called.exceptionallyCompose(
        failure -> {
          Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
          if (cause instanceof RedisCommandExecutionException refused
              && String.valueOf(refused.getMessage()).startsWith("NOSCRIPT")) {
            return async.eval(text, type, keys, arguments);
          }
          return CompletableFuture.failedStage(cause);
        });
  }

  /** The reply to a call on a cluster, waited for as long as a command may take. */
  private <T> T awaitCluster(CompletionStage<T> reply) {
    try {
      return reply
          .toCompletableFuture()
          .get(cluster.connection().getTimeout().toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof CompletionException && cause.getCause() != null) {
        cause = cause.getCause();
      }
      throw cause instanceof RedisException redis ? redis : new RedisException(cause);
    } catch (TimeoutException e) {
      throw new RedisCommandTimeoutException(
          "Redis did not answer within " + cluster.connection().getTimeout().toMillis() + " ms");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisException("interrupted while waiting for Redis", e);
    }
  }

  /** The number of keys in the database (DBSIZE); on a cluster, the sum of its masters'. */
  public long keyCount() {
    if (cluster != null) {
      return cluster.keyspace().sizes().values().stream().mapToLong(Long::longValue).sum();
    }
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
    if (cluster != null) {
      return clusterCountKeys(glob, counted, deadline);
    }
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
   * As {@link #countKeys}, on a cluster: each master's keys are counted by its own scan, and a
   * master scanned again (slots moved to it meanwhile) is counted by its last scan only, so that a
   * key is counted once, on the master that holds it at the end of the walk.
   */
  private java.util.OptionalLong clusterCountKeys(
      String glob, java.util.function.Predicate<String> counted, long deadline) {
    Map<String, Long> byMaster = new HashMap<>();
    String[] scanning = {null};
    Optional<List<Master>> masters =
        cluster
            .keyspace()
            .walk(
                glob,
                1000,
                new ClusterKeyspace.Visitor() {
                  @Override
                  public void startMaster(String masterId) {
                    scanning[0] = masterId;
                    byMaster.put(masterId, 0L);
                  }

                  @Override
                  public boolean page(List<String> keys) {
                    if (System.nanoTime() - deadline > 0) {
                      return false;
                    }
                    byMaster.merge(scanning[0], keys.stream().filter(counted).count(), Long::sum);
                    return true;
                  }
                });
    return masters
        .map(
            last ->
                java.util.OptionalLong.of(
                    last.stream().mapToLong(m -> byMaster.getOrDefault(m.id(), 0L)).sum()))
        .orElse(java.util.OptionalLong.empty());
  }

  /**
   * {@code count} keys drawn at random (RANDOMKEY, pipelined), with repeats; fewer when the
   * database is empty. On a cluster each draw is from a master picked in proportion to its number
   * of keys (see {@link ClusterKeyspace#randomKeys}), so that an estimate scaled by {@link
   * #keyCount} is not biased towards the smaller masters' keys.
   */
  public List<String> randomKeys(int count) {
    if (cluster != null) {
      return cluster.keyspace().randomKeys(count);
    }
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
    return commands.type(key);
  }

  public Map<String, String> hash(String key) {
    return commands.hgetall(key);
  }

  public String get(String key) {
    return commands.get(key);
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
   * <p><b>On a Redis Cluster</b> the position hash lives on the master of the state's slot and the
   * keys on every master, and a script can touch the keys of its own node only: the check cannot be
   * in the script that deletes. The position's {@code applied} is read first, nothing is deleted
   * when it is before the fence (every key is left, as 'behind'), and then each key is evicted
   * alone, by its version. The check is then not atomic with the deletes, nor made on the master
   * that deletes: a master holding some of the keys may fail over, between the check and the
   * deletes or before, to a replica that lacks batches the stream had applied there. That is
   * acceptable because the writer finds such a shard out: its shard key's position is then below
   * what the writer saw it acknowledge, and its next batch there fails as a rollback, which is
   * repaired (streamed again or reloaded) before the stream goes on; whatever the lost batches
   * wrote, and whatever a change in them needed from a key deleted here, is written again from
   * PostgreSQL by that repair.
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
    List<? extends CompletionStage<String>> results =
        cluster != null
            ? clusterEvictions(seen, positionKey, fenceText)
            : evictions(seen, positionKey, fenceText);
    long evicted = 0;
    long behind = 0;
    for (CompletionStage<String> result : results) {
      try {
        String outcome = result.toCompletableFuture().get(10, TimeUnit.SECONDS);
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

  /** Sends evict.lua for each key in one write, on one master. */
  private List<RedisFuture<String>> evictions(
      Map<String, String> seen, String positionKey, String fenceText) {
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
    return results;
  }

  /**
   * On a cluster: with a position, its {@code applied} is read first, and every key is left as
   * 'behind' when it is before the fence (see {@link #evictBehindTheStream}); otherwise evict.lua
   * for each key alone, routed to its master.
   */
  private List<CompletionStage<String>> clusterEvictions(
      Map<String, String> seen, String positionKey, String fenceText) {
    List<CompletionStage<String>> results = new ArrayList<>(seen.size());
    if (positionKey != null) {
      String applied = commands.hget(positionKey, "applied");
      if (applied == null || applied.compareTo(fenceText) < 0) {
        seen.keySet().forEach(key -> results.add(CompletableFuture.completedFuture("behind")));
        return results;
      }
    }
    seen.forEach(
        (key, version) ->
            results.add(
                script(
                    EVICT_LUA, evictScript, ScriptOutputType.STATUS, new String[] {key}, version)));
    return results;
  }

  /**
   * On a cluster, has {@code hook} told the address of each master a walk finished scanning, before
   * the walk goes on: for the tests.
   */
  void afterEachMaster(Consumer<String> hook) {
    cluster.keyspace().afterEachMaster(hook);
  }

  @Override
  public void close() {
    if (cluster != null) {
      cluster.connection().close();
      cluster.client().shutdown();
      return;
    }
    connection.close();
    client.shutdown();
  }
}
