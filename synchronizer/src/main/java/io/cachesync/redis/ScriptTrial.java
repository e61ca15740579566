package io.cachesync.redis;

import io.cachesync.model.Version;
import io.lettuce.core.RedisException;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Runs each of the writer's scripts once, as the writer calls them (SCRIPT LOAD, then EVALSHA with
 * a TTL, MessagePack-packed rows and a position), on throwaway keys under {@code <state
 * prefix>preflight:}, where no application keeps keys and which the synchronizer's Redis user may
 * write, and deletes them: a Redis user without a command the scripts run, or a Redis without the
 * cmsgpack library, is found before the stream starts rather than on its first batch. Nothing is
 * published on the synchronizer's channel: the trial's position carries no applied bound.
 */
final class ScriptTrial {
  private final RedisCommands<String, String> redis;
  private final String stateKeyPrefix;

  ScriptTrial(RedisCommands<String, String> redis, String stateKeyPrefix) {
    this.redis = redis;
    this.stateKeyPrefix = stateKeyPrefix;
  }

  /** What went wrong, one problem per script that failed, each naming the fix; empty when none. */
  List<String> problems() {
    String base = stateKeyPrefix + "preflight:" + UUID.randomUUID() + ":";
    String version = new Version(1, 8).text();
    List<String> problems = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    try {
      for (String name : WriterScripts.NAMES) {
        String key = base + name;
        keys.addAll(List.of(key, key + ":truncates", key + ":position"));
        try {
          run(name, redis.scriptLoad(WriterScripts.text(name)), key, version);
        } catch (RedisException e) {
          problems.add(explain(name, String.valueOf(LettuceClients.rootCause(e).getMessage())));
        }
      }
    } finally {
      try {
        redis.del(keys.toArray(String[]::new));
      } catch (RedisException e) {
        // Deleting is refused too: already reported above.
      }
    }
    return problems;
  }

  private void run(String name, String digest, String key, String version) {
    CommandArgs<String, String> arguments = new CommandArgs<>(StringCodec.UTF8).add(digest);
    switch (name) {
      case "write_hash" -> {
        // The row written, then updated in place keeping "field" (an unchanged TOAST column),
        // dropping "extra" and its TTL: every command of both paths runs.
        HashRowCall row = new HashRowCall();
        row.add(key, key, version, "60", List.of(), List.of("field", "value", "extra", "x"));
        row.add(key, key, version, "0", List.of("field"), List.of("other", "y"));
        arguments.add(row.keys().length).addKeys(row.keys()).add(row.packedValues());
      }
      case "load_hash" -> {
        HashRowCall row = new HashRowCall();
        row.add(key, key, version, "60", List.of(), List.of("field", "value"));
        arguments.add(2).addKeys(row.keys()).add(row.packedValues());
      }
      case "bulk_load" -> {
        // A lease and an epoch of the trial's own, so that the script writes its row.
        redis.set(key + ":position", "preflight");
        redis.hset(key + ":truncates", "__epoch", "preflight");
        BulkLoadWriter.Call row = new BulkLoadWriter.Call();
        row.hash(key, 60, version, List.of("field", "value"));
        arguments
            .add(3)
            .addKeys(key + ":position", key + ":truncates", key)
            .add("preflight")
            .add("preflight")
            .add(row.packed());
      }
      case "write_json", "load_json" ->
          arguments
              .add(1)
              .addKey(key)
              .add(version)
              .add("60")
              .add("{\"__v\":\"" + version + "\"}")
              .add("");
      case "record_truncate" ->
          arguments.add(1).addKey(key).add("public.preflight").add(version + " preflight:{id}");
      case "clear_truncate" ->
          arguments
              .add(2)
              .addKeys(key, key + ":position")
              .add("public.preflight")
              .add(version + " preflight:{id}")
              .add(stateKeyPrefix + "applied");
      case "restore_position" ->
          arguments
              .add(2)
              .addKeys(key, key + ":truncates")
              .add(version)
              .add(Version.ZERO.text())
              .add(Version.ZERO.toString())
              .add(Instant.now().toString())
              .add("");
      case "store_position" ->
          arguments
              .add(2)
              .addKeys(key, key + ":truncates")
              .add(Version.ZERO.text())
              .add(version)
              .add(new Version(1, 8).toString())
              .add(Instant.now().toString())
              // No applied bound: nothing is published to the read-your-writes fence's clients.
              .add("")
              .add(stateKeyPrefix + "applied");
      default -> {
        redis.set(key, "{\"__v\":\"" + Version.ZERO.text() + "\"}");
        arguments.add(1).addKey(key).add(version);
      }
    }
    redis.dispatch(CommandType.EVALSHA, new NestedMultiOutput<>(StringCodec.UTF8), arguments);
  }

  /** The problem and its fix. */
  static String explain(String script, String error) {
    String what = script + ".lua failed: " + error;
    if (error.contains("cmsgpack")) {
      return what
          + "; this Redis has no cmsgpack Lua library, which the writer needs: use a Redis build"
          + " with its standard Lua libraries (6.2 or later)";
    }
    if (error.contains("'evalsha'") || error.contains("'script|load'")) {
      return what
          + "; the Redis user may not load or run scripts: grant them (+evalsha +script|load);"
          + " `cachesync grants --redis` prints the ACL SETUSER line of every right cachesync needs";
    }
    if (error.contains("NOPERM") || error.contains("can't run this command")) {
      return what
          + "; the Redis user may not run a command the script runs (TYPE, HGET, HSET, DEL, SET,"
          + " GETRANGE, EXPIRE, HMGET), or may not write the synchronizer's keys: `cachesync"
          + " grants --redis` prints the ACL SETUSER line of every right cachesync needs";
    }
    return what + "; check that the Redis user may run scripts and that Redis is 6.2 or later";
  }
}
