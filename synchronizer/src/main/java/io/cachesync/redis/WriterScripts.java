package io.cachesync.redis;

import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.CommandArgs;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer's Lua scripts: read from the resources next to this class, loaded into Redis and
 * called by their SHA1 digest, and loaded again when Redis lost its script cache.
 *
 * <p>On one master the row scripts take their keys as KEYS. On a master of a Redis Cluster they are
 * loaded for a shard ({@link #loadForShard}): Redis refuses a transaction, and a script, whose
 * declared keys hash to more than one slot, so each row script there declares only the shard's own
 * key (see {@link ShardScripts}) and takes the rows' keys as arguments; a script run without a
 * shebang may touch keys of any slot its node serves.
 */
final class WriterScripts {
  private static final Logger LOG = LoggerFactory.getLogger(WriterScripts.class);

  /** The scripts the writer calls. */
  static final List<String> NAMES =
      List.of(
          "store_position",
          "restore_position",
          "record_truncate",
          "clear_truncate",
          "load_hash",
          "load_json",
          "bulk_load",
          "write_hash",
          "write_json",
          "evict");

  /** The scripts whose version guard {@link LettuceCacheWriter#UNSAFE_NO_VERSION_GUARD} removes. */
  private static final List<String> GUARDED =
      List.of("load_hash", "load_json", "write_hash", "write_json", "evict");

  private final RedisCommands<String, String> redis;
  private final Map<String, String> digests = new ConcurrentHashMap<>();

  /** The shard key every row script declares, on a cluster's master; null on one master. */
  private final String shardKey;

  /** The lease owner the row scripts check the shard key for; '' for none. */
  private final String owner;

  private WriterScripts(RedisCommands<String, String> redis, String shardKey, String owner) {
    this.redis = redis;
    this.shardKey = shardKey;
    this.owner = owner;
  }

  /** Loads every script through {@code redis}. */
  static WriterScripts load(RedisCommands<String, String> redis) {
    WriterScripts scripts = new WriterScripts(redis, null, "");
    scripts.loadAll();
    return scripts;
  }

  /** As {@link #loadForShard(RedisCommands, String, String)} for a writer no lease guards. */
  static WriterScripts loadForShard(RedisCommands<String, String> redis, String shardKey) {
    return loadForShard(redis, shardKey, null);
  }

  /**
   * Loads the row scripts and the shard's position scripts through {@code redis}, a master of a
   * Redis Cluster, for a shard whose key is {@code shardKey} (see {@link ShardScripts}).
   *
   * @param owner the writer's lease owner every row script checks the shard key for (see {@link
   *     ClusterCacheWriter}); null for a writer no lease guards
   */
  static WriterScripts loadForShard(
      RedisCommands<String, String> redis, String shardKey, String owner) {
    WriterScripts scripts =
        new WriterScripts(
            redis, java.util.Objects.requireNonNull(shardKey), owner == null ? "" : owner);
    scripts.loadAll();
    return scripts;
  }

  /** The shard key the row scripts declare; empty on one master. */
  java.util.Optional<String> shardKey() {
    return java.util.Optional.ofNullable(shardKey);
  }

  /**
   * The start of an EVALSHA of row script {@code name} on {@code keys}: its digest, then its keys
   * as the script takes them here (KEYS on one master; after the shard key, as arguments, on a
   * cluster's master). The caller adds the script's own arguments.
   */
  CommandArgs<String, String> call(String name, String... keys) {
    CommandArgs<String, String> arguments = new CommandArgs<>(StringCodec.UTF8).add(digest(name));
    if (shardKey == null) {
      return arguments.add(keys.length).addKeys(keys);
    }
    arguments.add(1).addKey(shardKey).add(owner).add(keys.length);
    for (String key : keys) {
      arguments.add(key);
    }
    return arguments;
  }

  /** The digest that EVALSHA calls script {@code name} by. */
  String digest(String name) {
    String digest = digests.get(name);
    if (digest == null) {
      throw new IllegalArgumentException("no script " + name);
    }
    return digest;
  }

  /** Loads the scripts again, after Redis answered NOSCRIPT (a restart, a failover). */
  void reload() {
    LOG.info("Redis lost its script cache (restarted?); loading the scripts again");
    loadAll();
  }

  private void loadAll() {
    boolean unguarded = Boolean.getBoolean(LettuceCacheWriter.UNSAFE_NO_VERSION_GUARD);
    if (unguarded) {
      LOG.warn(
          "{} is set: the version guard is OFF and older data can overwrite newer data",
          LettuceCacheWriter.UNSAFE_NO_VERSION_GUARD);
    }
    for (String name : shardKey == null ? NAMES : ShardScripts.NAMES) {
      String script = shardKey == null ? text(name) : ShardScripts.text(name);
      if (unguarded && GUARDED.contains(name)) {
        String unguardedScript =
            script.replace("stored > ARGV[1]", "false").replace("stored > version", "false");
        if (unguardedScript.equals(script)) {
          throw new IllegalStateException("no version guard found to switch off in " + name);
        }
        script = unguardedScript;
      }
      digests.put(name, redis.scriptLoad(script));
    }
  }

  /** The text of script {@code name} ({@code name.lua}). */
  static String text(String name) {
    return resource(name + ".lua");
  }

  static String resource(String fileName) {
    try (InputStream in = WriterScripts.class.getResourceAsStream(fileName)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + fileName);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
