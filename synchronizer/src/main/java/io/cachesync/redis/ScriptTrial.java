package io.cachesync.redis;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.Version;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Runs each of the writer's scripts once, as the writer calls them (SCRIPT LOAD, then EVALSHA with
 * a TTL, MessagePack-packed rows and a position), on throwaway keys under {@code <state
 * prefix>preflight:}, where no application keeps keys and which the synchronizer's Redis user may
 * write, and deletes them: a Redis user without a command the scripts run, or a Redis without the
 * cmsgpack library, is found before the stream starts rather than on its first batch. Nothing is
 * published on the synchronizer's channel: the trial's position carries no applied bound.
 *
 * <p>On a master of a Redis Cluster ({@link #onClusterMaster}) the keys go under a prefix with a
 * hash tag of a slot the master serves, so that each script's keys, and the DEL after, are of one
 * slot on this master. The scripts are then tried a second time as the cluster writer runs them on
 * each master ({@link ShardScripts}): each declares only a shard key and writes rows of another
 * slot of the master, undeclared, which only Redis 7.0 and later allow (a script without a
 * shebang).
 */
final class ScriptTrial {
  private final RedisCommands<String, String> redis;
  private final String stateKeyPrefix;

  /** What every key of the trial starts with: on a cluster's master, with one slot's hash tag. */
  private final String scratchPrefix;

  /** On a cluster's master, what the shard scripts' rows start with (another slot); else null. */
  private final String rowScratchPrefix;

  ScriptTrial(RedisCommands<String, String> redis, String stateKeyPrefix) {
    this(redis, stateKeyPrefix, stateKeyPrefix + "preflight:", null);
  }

  private ScriptTrial(
      RedisCommands<String, String> redis,
      String stateKeyPrefix,
      String scratchPrefix,
      String rowScratchPrefix) {
    this.redis = redis;
    this.stateKeyPrefix = stateKeyPrefix;
    this.scratchPrefix = scratchPrefix;
    this.rowScratchPrefix = rowScratchPrefix;
  }

  /**
   * A trial on a master of a Redis Cluster.
   *
   * @param scratchPrefix what the keys start with, holding the hash tag of a slot the master
   *     serves: {@code cachesync:<name>:shard:preflight:{<tag>}:}
   * @param rowScratchPrefix the same, of another slot the master serves if it has two, for the rows
   *     the shard scripts write undeclared
   */
  static ScriptTrial onClusterMaster(
      RedisCommands<String, String> redis,
      String stateKeyPrefix,
      String scratchPrefix,
      String rowScratchPrefix) {
    return new ScriptTrial(
        redis, stateKeyPrefix, scratchPrefix, requireNonNull(rowScratchPrefix, "rowScratchPrefix"));
  }

  /** What went wrong, one problem per script that failed, each naming the fix; empty when none. */
  List<String> problems() {
    String trial = UUID.randomUUID() + ":";
    String base = scratchPrefix + trial;
    String version = new Version(1, 8).text();
    List<String> problems = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    List<String> rowKeys = new ArrayList<>();
    try {
      for (String name : WriterScripts.NAMES) {
        String key = base + name;
        keys.addAll(List.of(key, key + ":truncates", key + ":position"));
        try {
          String digest = redis.scriptLoad(WriterScripts.text(name));
          Call call = call(name, key, version);
          CommandArgs<String, String> arguments =
              new CommandArgs<>(StringCodec.UTF8)
                  .add(digest)
                  .add(call.keys().size())
                  .addKeys(call.keys());
          call.arguments().accept(arguments);
          evalsha(arguments);
        } catch (RedisException e) {
          problems.add(explain(name, String.valueOf(LettuceClients.rootCause(e).getMessage())));
        }
      }
      if (rowScratchPrefix != null) {
        String shard = base + "shard";
        keys.add(shard);
        problems.addAll(shardProblems(shard, rowScratchPrefix + trial, version, rowKeys));
      }
    } finally {
      delete(keys);
      delete(rowKeys);
    }
    return problems;
  }

  /**
   * Runs the scripts a cluster's master runs for the cluster writer ({@link ShardScripts}), called
   * as the writer calls them ({@link WriterScripts#call}): each row script declaring only {@code
   * shard}, claimed for a lease owner of the trial's own as the writer claims its shard keys, and
   * writing rows under {@code rowBase} (added to {@code rowKeys} for the DEL); then the shard's
   * position stored and restored.
   */
  private List<String> shardProblems(
      String shard, String rowBase, String version, List<String> rowKeys) {
    String owner = "preflight";
    WriterScripts scripts;
    try {
      redis.hset(shard, Map.of("owner", owner));
      scripts = WriterScripts.loadForShard(redis, shard, owner);
    } catch (RedisException e) {
      return List.of(
          explainOnCluster(
              "loading the scripts", String.valueOf(LettuceClients.rootCause(e).getMessage())));
    }
    List<String> problems = new ArrayList<>();
    for (String name : ShardScripts.NAMES) {
      String key = rowBase + name;
      rowKeys.add(key);
      try {
        CommandArgs<String, String> arguments;
        switch (name) {
          case "store_shard_position" ->
              arguments =
                  new CommandArgs<>(StringCodec.UTF8)
                      .add(scripts.digest(name))
                      .add(1)
                      .addKey(shard)
                      .add(Version.ZERO.text())
                      .add(version)
                      .add(new Version(1, 8).toString())
                      .add(Instant.now().toString());
          case "restore_shard_position" ->
              arguments =
                  new CommandArgs<>(StringCodec.UTF8)
                      .add(scripts.digest(name))
                      .add(1)
                      .addKey(shard)
                      .add(version)
                      .add(Version.ZERO.text())
                      .add(Version.ZERO.toString())
                      .add(Instant.now().toString());
          default -> {
            Call call = call(name, key, version);
            arguments = scripts.call(name, call.keys().toArray(String[]::new));
            call.arguments().accept(arguments);
          }
        }
        Object reply = evalsha(arguments);
        // A row script that failed marks the shard, and the position script then stores nothing.
        if (String.valueOf(reply).startsWith("failed:")) {
          throw new RedisCommandExecutionException(String.valueOf(reply).substring(7));
        }
      } catch (RedisException e) {
        problems.add(
            explainOnCluster(
                name + ".lua", String.valueOf(LettuceClients.rootCause(e).getMessage())));
        // Each script is judged alone: the mark would fail every later one.
        try {
          redis.hdel(shard, "failed");
        } catch (RedisException refused) {
          // HDEL refused too: reported by the ACL check.
        }
      }
    }
    return problems;
  }

  /**
   * A script's keys, and what to add after them: the script's own arguments.
   *
   * @param arguments adds the arguments after the keys
   */
  private record Call(List<String> keys, Consumer<CommandArgs<String, String>> arguments) {}

  /** How the writer calls script {@code name} on {@code key}, preparing what it reads. */
  private Call call(String name, String key, String version) {
    switch (name) {
      case "write_hash" -> {
        // The row written, then updated in place keeping "field" (an unchanged TOAST column),
        // dropping "extra" and its TTL: every command of both paths runs.
        HashRowCall row = new HashRowCall();
        row.add(key, key, version, "60", List.of(), List.of("field", "value", "extra", "x"));
        row.add(key, key, version, "0", List.of("field"), List.of("other", "y"));
        return new Call(List.of(row.keys()), arguments -> arguments.add(row.packedValues()));
      }
      case "load_hash" -> {
        HashRowCall row = new HashRowCall();
        row.add(key, key, version, "60", List.of(), List.of("field", "value"));
        return new Call(List.of(row.keys()), arguments -> arguments.add(row.packedValues()));
      }
      case "bulk_load" -> {
        // A lease and an epoch of the trial's own, so that the script writes its row.
        redis.set(key + ":position", "preflight");
        redis.hset(key + ":truncates", "__epoch", "preflight");
        BulkLoadWriter.Call row = new BulkLoadWriter.Call();
        row.hash(key, 60, version, List.of("field", "value"));
        return new Call(
            List.of(key + ":position", key + ":truncates", key),
            arguments -> arguments.add("preflight").add("preflight").add(row.packed()));
      }
      case "write_json", "load_json" -> {
        return new Call(
            List.of(key),
            arguments ->
                arguments.add(version).add("60").add("{\"__v\":\"" + version + "\"}").add(""));
      }
      case "record_truncate" -> {
        return new Call(
            List.of(key),
            arguments -> arguments.add("public.preflight").add(version + " preflight:{id}"));
      }
      case "clear_truncate" -> {
        return new Call(
            List.of(key, key + ":position"),
            arguments ->
                arguments
                    .add("public.preflight")
                    .add(version + " preflight:{id}")
                    .add(stateKeyPrefix + "applied"));
      }
      case "restore_position" -> {
        return new Call(
            List.of(key, key + ":truncates"),
            arguments ->
                arguments
                    .add(version)
                    .add(Version.ZERO.text())
                    .add(Version.ZERO.toString())
                    .add(Instant.now().toString())
                    .add(""));
      }
      case "store_position" -> {
        return new Call(
            List.of(key, key + ":truncates"),
            arguments ->
                arguments
                    .add(Version.ZERO.text())
                    .add(version)
                    .add(new Version(1, 8).toString())
                    .add(Instant.now().toString())
                    // No applied bound: nothing is published to the read-your-writes fence's
                    // clients.
                    .add("")
                    .add(stateKeyPrefix + "applied"));
      }
      default -> {
        redis.set(key, "{\"__v\":\"" + Version.ZERO.text() + "\"}");
        return new Call(List.of(key), arguments -> arguments.add(version));
      }
    }
  }

  private Object evalsha(CommandArgs<String, String> arguments) {
    return redis.dispatch(
        CommandType.EVALSHA, new NestedMultiOutput<>(StringCodec.UTF8), arguments);
  }

  /** Deletes {@code keys}, all of one slot on a cluster. */
  private void delete(List<String> keys) {
    if (keys.isEmpty()) {
      return;
    }
    try {
      redis.del(keys.toArray(String[]::new));
    } catch (RedisException e) {
      // Deleting is refused too: already reported above.
    }
  }

  /** The problem and its fix. */
  static String explain(String script, String error) {
    return withFix(script + ".lua failed: " + error, error);
  }

  /**
   * The problem of a script as a cluster's master runs it, and its fix: also what only a cluster
   * answers.
   *
   * @param script the script's name, or what failed when it is not one script's run
   */
  static String explainOnCluster(String script, String error) {
    String what = script + " failed on this cluster master: " + error;
    if (error.contains("do not hash to the same slot")) {
      return what
          + "; this Redis refuses a script access to keys of slots it does not declare, which the"
          + " cluster writer's scripts need: Redis 7.0 or later allows it to scripts without a"
          + " shebang";
    }
    if (error.contains("non local key")
        || error.startsWith("MOVED")
        || error.startsWith("ASK")
        || error.startsWith("TRYAGAIN")
        || error.startsWith("CLUSTERDOWN")) {
      return what
          + "; the cluster's slots changed during the check: run it again once it is stable";
    }
    return withFix(what, error);
  }

  private static String withFix(String what, String error) {
    if (error.contains("cmsgpack")) {
      return what
          + "; this Redis has no cmsgpack Lua library, which the writer needs: use a Redis build"
          + " with its standard Lua libraries (6.2 or later)";
    }
    if (error.contains("'evalsha'") || error.contains("'script|load'")) {
      return what
          + "; the Redis user may not load or run scripts: grant them (+evalsha +script|load);"
          + " `cachesync grants --redis` prints the ACL SETUSER line of every right cachesync"
          + " needs";
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
