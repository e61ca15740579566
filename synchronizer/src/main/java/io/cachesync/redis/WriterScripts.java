package io.cachesync.redis;

import io.lettuce.core.api.sync.RedisCommands;
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

  private WriterScripts(RedisCommands<String, String> redis) {
    this.redis = redis;
  }

  /** Loads every script through {@code redis}. */
  static WriterScripts load(RedisCommands<String, String> redis) {
    WriterScripts scripts = new WriterScripts(redis);
    scripts.loadAll();
    return scripts;
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
    for (String name : NAMES) {
      String script = text(name);
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
