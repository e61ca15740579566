package io.cachesync.redis;

import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.KeyTemplate;
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
 * prefix>truncates}: per table, {@code <version> <key template>}. One release wrote {@code
 * <version>+<key template>} for a table in {@code mode: write} (evict only the keys that carry
 * cachesync's version); such a record is read and finished like the plain form, every key of the
 * template going, and removed as it was written. A TRUNCATE whose evictions did not finish within
 * the batch's budget is recorded in the transaction that stores its position, and its record is
 * removed once every key was seen, after the evictions on the same connection, so a replica holding
 * the removal holds the evictions too. A record in Redis therefore means evictions that may still
 * be missing, whatever happened meanwhile (a restart, a failover that lost some of them), and
 * running them again is harmless: each is guarded by the TRUNCATE's version, so a key written after
 * it stays. A failover that loses the record loses the position stored with it too, which the next
 * batch notices, and the TRUNCATE is streamed again.
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
    return truncate.version().text() + " " + truncate.template().text();
  }

  /**
   * A TRUNCATE read from Redis, with its record as it is stored there: the one its removal compares
   * with.
   */
  record Recorded(EvictTable truncate, String record) {}

  /**
   * The TRUNCATE a record stands for: {@code <version> <key template>}, or the {@code
   * <version>+<key template>} of the release that spared keys without a version, read alike.
   */
  static EvictTable parse(String table, String record) {
    char separator =
        record.length() > Version.TEXT_LENGTH ? record.charAt(Version.TEXT_LENGTH) : '\0';
    if (separator != ' ' && separator != '+') {
      throw new IllegalArgumentException("not a TRUNCATE's record: " + record);
    }
    return new EvictTable(
        TableId.parse(table),
        KeyTemplate.parse(record.substring(Version.TEXT_LENGTH + 1)),
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
   * Removes the record of {@code pending}, unless it is of another TRUNCATE by now; the last one
   * removed lets the read-your-writes bound move on (clear_truncate.lua). The record is compared as
   * it was read, in whichever form it was written.
   */
  void clear(RedisCommands<String, String> redis, Recorded pending) {
    redis.evalsha(
        scripts.digest("clear_truncate"),
        ScriptOutputType.STATUS,
        new String[] {key, positionKey},
        pending.truncate().table().toString(),
        pending.record(),
        appliedChannel);
  }

  /** The TRUNCATEs recorded in Redis, each with its record. */
  List<Recorded> pending(RedisCommands<String, String> redis) {
    List<Recorded> pending = new ArrayList<>();
    for (Map.Entry<String, String> entry : redis.hgetall(key).entrySet()) {
      pending.add(new Recorded(parse(entry.getKey(), entry.getValue()), entry.getValue()));
    }
    return pending;
  }
}
