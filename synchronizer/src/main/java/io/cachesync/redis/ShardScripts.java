package io.cachesync.redis;

import java.util.List;
import java.util.stream.Collectors;

/**
 * The writer's scripts as a master of a Redis Cluster runs them, in a shard's transaction.
 *
 * <p>Redis refuses (CROSSSLOT) a MULTI/EXEC, and a script, whose declared keys hash to more than
 * one slot, and a batch's rows on one master span hundreds of slots. A script run without a shebang
 * may read and write keys of any slot its node serves, declared or not, so each row script of a
 * shard's transaction declares one key, the shard's own hash (its position), and takes the rows'
 * keys as arguments: the transaction's keys are then all of one slot, and the position is stored
 * with the data as on one master.
 *
 * <p>Inside a transaction a script that fails does not stop the ones queued after it, and so the
 * shard's position would be stored past a write that failed. Each row script therefore runs inside
 * a wrapper that catches its error and, unless the value itself caused it (the writer evicts such a
 * key and goes on, as on one master), marks the shard's hash {@code failed}: the later row scripts
 * of the batch then write nothing, and store_shard_position.lua stores no position but clears the
 * mark, in the same transaction. A row whose slot is no longer (or not yet) on the node fails so
 * ("Script attempted to access a non local key"), and the batch is retried on the new topology.
 *
 * <p>The wrapper is built from the script's own text, which becomes a local function whose
 * parameters KEYS and ARGV shadow Redis's: the one text serves both layouts, so they cannot drift.
 */
public final class ShardScripts {
  /** The scripts a shard's transaction runs: the row scripts, wrapped, and its position's. */
  static final List<String> NAMES =
      List.of(
          "load_hash",
          "load_json",
          "write_hash",
          "write_json",
          "evict",
          "store_shard_position",
          "restore_shard_position");

  /** The row scripts of the stream's transactions, which {@link #text} wraps. */
  private static final List<String> ROW_SCRIPTS =
      List.of("load_hash", "load_json", "write_hash", "write_json", "evict");

  private ShardScripts() {}

  /** The text of script {@code name} as a cluster's master runs it (public for the tests). */
  public static String text(String name) {
    String script = WriterScripts.text(name);
    return ROW_SCRIPTS.contains(name) ? wrap(script) : script;
  }

  /**
   * {@code script}, taking its keys after the shard key: KEYS[1] the shard's hash; ARGV[1] the
   * owner of the writer's lease the caller writes for, '' for none; ARGV[2] n, the number of row
   * keys; ARGV[3..n+2] the keys; the rest the script's own arguments. With an owner, the script
   * runs only while the shard key names that owner (see {@link ClusterCacheWriter}: the daemon
   * holding the lease claims every shard key), so that a daemon paused past its lease writes
   * nothing once another claimed the shard.
   */
  static String wrap(String script) {
    String valueErrors =
        BatchTransaction.VALUE_ERRORS.stream()
            .map(error -> "'" + error + "'")
            .collect(Collectors.joining(", "));
    return "local function body(KEYS, ARGV)\n"
        + script
        + "\nend\n"
        + "-- The wrapper (ShardScripts): KEYS[1] the shard's hash; ARGV[1] the lease owner or '',\n"
        + "-- ARGV[2] the number of row keys, then the keys, then the script's own arguments.\n"
        + "local shard = KEYS[1]\n"
        + "if redis.call('HEXISTS', shard, 'failed') == 1 then\n"
        + "  return redis.error_reply('ERR an earlier write of this batch failed on this"
        + " shard: ' .. redis.call('HGET', shard, 'failed'))\n"
        + "end\n"
        + "if ARGV[1] ~= '' then\n"
        + "  local owner = redis.call('HGET', shard, 'owner')\n"
        + "  if owner ~= ARGV[1] then\n"
        + "    local message = 'FENCED the shard is claimed by ' .. tostring(owner)\n"
        + "    redis.call('HSET', shard, 'failed', message)\n"
        + "    return redis.error_reply(message)\n"
        + "  end\n"
        + "end\n"
        + "local n = tonumber(ARGV[2])\n"
        + "local keys, argv = {}, {}\n"
        + "for i = 1, n do\n"
        + "  keys[i] = ARGV[2 + i]\n"
        + "end\n"
        + "for i = n + 3, #ARGV do\n"
        + "  argv[#argv + 1] = ARGV[i]\n"
        + "end\n"
        + "local ok, result = pcall(body, keys, argv)\n"
        + "if ok then\n"
        + "  return result\n"
        + "end\n"
        + "local message = type(result) == 'table' and tostring(result.err) or tostring(result)\n"
        + "local valueError = false\n"
        + "for _, known in ipairs({"
        + valueErrors
        + "}) do\n"
        + "  if string.find(message, known, 1, true) then\n"
        + "    valueError = true\n"
        + "  end\n"
        + "end\n"
        + "if not valueError then\n"
        + "  redis.call('HSET', shard, 'failed', message)\n"
        + "end\n"
        + "return redis.error_reply(message)\n";
  }
}
