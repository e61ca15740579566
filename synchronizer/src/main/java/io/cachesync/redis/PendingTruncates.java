package io.cachesync.redis;

import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.Version;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The TRUNCATEs whose evictions are left to {@link BackgroundTruncates}, in the hash {@code <state
 * prefix>truncates}: per table, {@code <version> <key template>} for a table in {@code mode: evict}
 * (every key of the template goes; the form earlier releases wrote for every table), {@code
 * <version>+<key template>} for one in {@code mode: write} (only the keys that carry cachesync's
 * version: see {@link EvictTable}). A TRUNCATE whose evictions did not finish within the batch's
 * budget is recorded in the transaction that stores its position, and its record is removed once
 * every key was seen, after the evictions on the same connection, so a replica holding the removal
 * holds the evictions too. A record in Redis therefore means evictions that may still be missing,
 * whatever happened meanwhile (a restart, a failover that lost some of them), and running them
 * again is harmless: each is guarded by the TRUNCATE's version, so a key written after it stays. A
 * failover that loses the record loses the position stored with it too, which the next batch
 * notices, and the TRUNCATE is streamed again.
 */
final class PendingTruncates {
  /** The hash's key after the state prefix. */
  static final String KEY = "truncates";

  private final String key;
  private final String positionKey;
  private final String appliedChannel;
  private final WriterScripts scripts;

  PendingTruncates(String stateKeyPrefix, WriterScripts scripts) {
    this.key = stateKeyPrefix + KEY;
    this.positionKey = stateKeyPrefix + "position";
    this.appliedChannel = stateKeyPrefix + "applied";
    this.scripts = scripts;
  }

  /** The hash of pending TRUNCATEs. */
  String key() {
    return key;
  }

  /** How a TRUNCATE is recorded. */
  static String record(EvictTable truncate) {
    return truncate.version().text()
        + (truncate.evictsUnversioned() ? EVERY_KEY : VERSIONED_KEYS)
        + truncate.template().text();
  }

  /** After the version: every key of the template is evicted. */
  private static final char EVERY_KEY = ' ';

  /** After the version: only the keys of the template that carry a version are evicted. */
  private static final char VERSIONED_KEYS = '+';

  /** The TRUNCATE a record stands for. */
  static EvictTable parse(String table, String record) {
    char kind = record.charAt(Version.TEXT_LENGTH);
    if (kind != EVERY_KEY && kind != VERSIONED_KEYS) {
      throw new IllegalArgumentException("not a TRUNCATE's record: " + record);
    }
    return new EvictTable(
        TableId.parse(table),
        KeyTemplate.parse(record.substring(Version.TEXT_LENGTH + 1)),
        kind == EVERY_KEY ? SyncMode.EVICT : SyncMode.WRITE,
        Version.parse(record.substring(0, Version.TEXT_LENGTH)));
  }

  /** Queues the record of {@code truncate} (inside a transaction). */
  RedisFuture<String> queueRecord(
      RedisAsyncCommands<String, String> commands, EvictTable truncate) {
    return commands.evalsha(
        scripts.digest("record_truncate"),
        ScriptOutputType.STATUS,
        new String[] {key},
        truncate.table().toString(),
        record(truncate));
  }

  /**
   * Removes {@code truncate}'s record, unless it is of a newer TRUNCATE by now; the last one
   * removed lets the read-your-writes bound move on (clear_truncate.lua).
   */
  void clear(RedisCommands<String, String> redis, EvictTable truncate) {
    redis.evalsha(
        scripts.digest("clear_truncate"),
        ScriptOutputType.STATUS,
        new String[] {key, positionKey},
        truncate.table().toString(),
        record(truncate),
        appliedChannel);
  }

  /** The TRUNCATEs recorded in Redis. */
  List<EvictTable> pending(RedisCommands<String, String> redis) {
    List<EvictTable> pending = new ArrayList<>();
    for (Map.Entry<String, String> entry : redis.hgetall(key).entrySet()) {
      pending.add(parse(entry.getKey(), entry.getValue()));
    }
    return pending;
  }
}
