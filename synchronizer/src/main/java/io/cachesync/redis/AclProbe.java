package io.cachesync.redis;

import static java.util.Objects.requireNonNull;

import io.cachesync.redis.RedisRights.Command;
import io.cachesync.redis.RedisRights.Gaps;
import io.cachesync.redis.RedisRights.KeyPattern;
import io.lettuce.core.KillArgs;
import io.lettuce.core.LMoveArgs;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.protocol.ProtocolKeyword;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Finds which of the {@link RedisRights} the logged-in user lacks, by sending each command once in
 * a way that changes nothing cachesync or an application keeps. Redis checks the ACL before it runs
 * a command (after its arity), so a command it refuses answers NOPERM and one it allows answers
 * anything else: EVALSHA of a digest no script has answers NOSCRIPT, SET with an expiry of 0
 * answers an error, and the commands that do write (LPUSH, SADD, HSETNX) write throwaway keys under
 * {@code <state prefix>preflight:<uuid>:}, deleted after. A key pattern is probed with EVALSHA (or
 * SET) on a key that matches it and that no row renders; a channel by publishing the applied bound
 * Redis already holds (a fence waits for a bound at least its own, so an old bound satisfies none).
 */
final class AclProbe {
  /** A digest no script has: EVALSHA answers NOSCRIPT when the user may run it. */
  private static final String NO_SCRIPT = "0".repeat(40);

  private static final String NO_BOUND = "0".repeat(16);

  /** How Redis answered a probe. */
  enum Answer {
    ALLOWED,
    COMMAND_REFUSED,
    KEY_REFUSED,
    CHANNEL_REFUSED
  }

  private final RedisCommands<String, String> redis;
  private final String stateKeyPrefix;
  private final String base;

  /** Whether the probes go to a master of a Redis Cluster, where SELECT has no place. */
  private final boolean cluster;

  AclProbe(RedisCommands<String, String> redis, String stateKeyPrefix) {
    this(redis, stateKeyPrefix, stateKeyPrefix + "preflight:", false);
  }

  private AclProbe(
      RedisCommands<String, String> redis,
      String stateKeyPrefix,
      String scratchPrefix,
      boolean cluster) {
    this.redis = requireNonNull(redis, "redis");
    this.stateKeyPrefix = requireNonNull(stateKeyPrefix, "stateKeyPrefix");
    this.base = scratchPrefix + UUID.randomUUID() + ":probe:";
    this.cluster = cluster;
  }

  /**
   * Probes on a master of a Redis Cluster. The state keys' prefix holds the hash tag of one slot,
   * on one master: the throwaway keys go under {@code scratchPrefix} instead, whose hash tag is of
   * a slot this master serves, so that the keys a probe writes are written (a few probes take two
   * keys, which must share a slot) and the DEL after deletes them.
   *
   * @param scratchPrefix e.g. {@code cachesync:<name>:shard:preflight:{<tag>}:}
   */
  static AclProbe onClusterMaster(
      RedisCommands<String, String> redis, String stateKeyPrefix, String scratchPrefix) {
    return new AclProbe(redis, stateKeyPrefix, requireNonNull(scratchPrefix), true);
  }

  Gaps run(RedisRights rights) {
    List<Command> commands = new ArrayList<>();
    List<KeyPattern> keys = new ArrayList<>();
    List<String> channels = new ArrayList<>();
    // PUBLISH is probed on the synchronizer's channel, which also probes the channel's right.
    String channel = rights.channels().isEmpty() ? base + "channel" : rights.channels().get(0);
    Map<String, Consumer<RedisCommands<String, String>>> probes =
        probes(base, channel, this::appliedBound);
    Command multi = null;
    try {
      boolean stateKeysRefused = false;
      for (Command command : rights.commands()) {
        Consumer<RedisCommands<String, String>> probe = probes.get(command.name());
        if (probe == null) {
          throw new IllegalStateException("no probe for Redis command " + command.name());
        }
        if (command.name().equals("multi")) {
          multi = command; // last: see below
          continue;
        }
        if (cluster && command.name().equals("select")) {
          continue; // a cluster has database 0 only, and refuses SELECT whoever asks
        }
        switch (answer(probe)) {
          case COMMAND_REFUSED -> commands.add(command);
          case KEY_REFUSED -> stateKeysRefused = true;
          case CHANNEL_REFUSED -> channels.add(channel);
          default -> {}
        }
      }
      for (KeyPattern pattern : rights.keyPatterns()) {
        if (writeAnswer(pattern.sample()) == Answer.KEY_REFUSED
            || (stateKeysRefused && pattern.owner().equals(RedisRights.STATE) && covers(pattern))) {
          keys.add(pattern);
        }
      }
    } finally {
      clean();
    }
    // Last, since a user that may MULTI but neither EXEC nor DISCARD leaves this connection inside
    // the transaction, where every later command would only be queued.
    if (multi != null && answer(probes.get("multi")) == Answer.COMMAND_REFUSED) {
      commands.add(multi);
    }
    commands.sort(Comparator.comparingInt(rights.commands()::indexOf));
    return new Gaps(commands, keys, channels);
  }

  /**
   * Whether the probes' own keys match {@code pattern}: of the synchronizer's patterns, the one a
   * refusal of them tells about (on a cluster they go under the shard keys' pattern, not the state
   * keys').
   */
  private boolean covers(KeyPattern pattern) {
    String glob = pattern.pattern();
    if (!glob.endsWith("*")) {
      return false;
    }
    StringBuilder literal = new StringBuilder();
    for (int i = 0; i < glob.length() - 1; i++) {
      char c = glob.charAt(i);
      if (c == '\\' && i + 1 < glob.length() - 1) {
        c = glob.charAt(++i);
      }
      literal.append(c);
    }
    return base.startsWith(literal.toString());
  }

  /**
   * How Redis answers a write of {@code key} that writes nothing: EVALSHA of no script (the
   * writer's own path), or SET with an expiry of 0 when the user may not EVALSHA.
   */
  private Answer writeAnswer(String key) {
    Answer answer = answer(r -> r.evalsha(NO_SCRIPT, ScriptOutputType.STATUS, key));
    if (answer == Answer.COMMAND_REFUSED) {
      answer = answer(r -> x(r, CommandType.SET, args().addKey(key).add("x").add("PX").add(0)));
    }
    return answer;
  }

  /** The applied bound Redis holds, published again; all zeros when there is none. */
  private String appliedBound() {
    try {
      String bound = redis.hget(stateKeyPrefix + "position", "applied");
      return bound == null ? NO_BOUND : bound;
    } catch (RedisCommandExecutionException e) {
      return NO_BOUND;
    }
  }

  private Answer answer(Consumer<RedisCommands<String, String>> probe) {
    try {
      probe.accept(redis);
      return Answer.ALLOWED;
    } catch (RedisCommandExecutionException e) {
      return classify(String.valueOf(e.getMessage()));
    }
  }

  /**
   * Redis answers "NOPERM this user has no permissions to run the 'x' command" (7.2: "NOPERM User u
   * has no permissions to run the 'x' command"), "... to access one of the keys used as arguments"
   * (7.2: "NOPERM No permissions to access a key") or "... channels ..." ("... a channel").
   */
  static Answer classify(String error) {
    // EXEC refused answers "EXECABORT Transaction discarded because of: NOPERM ...".
    if (!error.contains("NOPERM")) {
      return Answer.ALLOWED;
    }
    if (error.contains("run the")) {
      return Answer.COMMAND_REFUSED;
    }
    if (error.contains("channel")) {
      return Answer.CHANNEL_REFUSED;
    }
    if (error.contains("key")) {
      return Answer.KEY_REFUSED;
    }
    return Answer.COMMAND_REFUSED;
  }

  /**
   * One probe per command cachesync may need, by its ACL name. Keyed commands work on keys under
   * {@code base}; a command that cannot be sent without writing writes there.
   *
   * @param channel where PUBLISH is probed
   * @param bound what it publishes there
   */
  static Map<String, Consumer<RedisCommands<String, String>>> probes(
      String base, String channel, Supplier<String> bound) {
    String string = base + "string";
    String hash = base + "hash";
    String list = base + "list";
    String otherList = base + "list2";
    String set = base + "set";
    Map<String, Consumer<RedisCommands<String, String>>> probes = new LinkedHashMap<>();
    probes.put("evalsha", r -> r.evalsha(NO_SCRIPT, ScriptOutputType.STATUS));
    probes.put("eval", r -> r.eval("return 0", ScriptOutputType.INTEGER));
    probes.put("script|load", r -> r.scriptLoad("return 0"));
    probes.put(
        "multi",
        r -> {
          x(r, Untracked.MULTI, args());
          leaveTransaction(r);
        });
    // Outside a transaction: "EXEC without MULTI", "DISCARD without MULTI" when allowed.
    probes.put("exec", r -> x(r, Untracked.EXEC, args()));
    probes.put("discard", r -> x(r, Untracked.DISCARD, args()));
    probes.put("watch", r -> r.watch(string));
    probes.put("unwatch", RedisCommands::unwatch);
    probes.put("client|id", RedisCommands::clientId);
    probes.put("client|list", RedisCommands::clientList);
    probes.put("client|kill", r -> r.clientKill(KillArgs.Builder.id(Long.MAX_VALUE)));
    // Names the probing connection, which is closed after the preflight.
    probes.put("client|setname", r -> r.clientSetname("cachesync-preflight"));
    probes.put("cluster|nodes", RedisCommands::clusterNodes);
    probes.put("cluster|info", RedisCommands::clusterInfo);
    probes.put("info", r -> r.info("server"));
    probes.put("dbsize", RedisCommands::dbsize);
    probes.put("randomkey", RedisCommands::randomkey);
    probes.put(
        "scan", r -> r.scan(ScanCursor.INITIAL, ScanArgs.Builder.matches(base + "*").limit(1)));
    probes.put("select", r -> x(r, CommandType.SELECT, args().add("not-a-database")));
    probes.put("wait", r -> r.waitForReplication(0, 0));
    probes.put("type", r -> r.type(string));
    probes.put("exists", r -> r.exists(string));
    probes.put("del", r -> r.del(string));
    probes.put("expire", r -> r.expire(string, 60));
    probes.put("persist", r -> r.persist(string));
    probes.put("pttl", r -> r.pttl(string));
    probes.put("get", r -> r.get(string));
    probes.put("set", r -> x(r, CommandType.SET, args().addKey(string).add("x").add("PX").add(0)));
    probes.put("getrange", r -> r.getrange(string, 0, 0));
    probes.put("hget", r -> r.hget(hash, "f"));
    probes.put("hgetall", r -> r.hgetall(hash));
    probes.put("hkeys", r -> r.hkeys(hash));
    probes.put("hmget", r -> r.hmget(hash, "f"));
    probes.put("hexists", r -> r.hexists(hash, "f"));
    probes.put("hlen", r -> r.hlen(hash));
    // An odd number of field arguments: refused after the ACL check, so nothing is written.
    probes.put("hset", r -> x(r, CommandType.HSET, args().addKey(hash).add("f").add("v").add("g")));
    probes.put("hsetnx", r -> r.hsetnx(hash, "f", "v"));
    probes.put("hdel", r -> r.hdel(hash, "f"));
    probes.put("llen", r -> r.llen(list));
    probes.put("lpush", r -> r.lpush(list, "a"));
    probes.put("rpush", r -> r.rpush(list, "b"));
    probes.put("lrem", r -> r.lrem(list, 0, "a"));
    probes.put("lmove", r -> r.lmove(list, otherList, LMoveArgs.Builder.leftRight()));
    probes.put("rpoplpush", r -> r.rpoplpush(otherList, list));
    probes.put("sadd", r -> r.sadd(set, "m"));
    probes.put("smembers", r -> r.smembers(set));
    probes.put("publish", r -> r.publish(channel, bound.get()));
    return probes;
  }

  /**
   * MULTI, EXEC and DISCARD as plain commands. Lettuce follows the transaction of a connection that
   * sends them under their own names (it collects the replies of the commands that follow into the
   * EXEC's); probed alone, they are just commands.
   */
  enum Untracked implements ProtocolKeyword {
    MULTI,
    EXEC,
    DISCARD;

    private final byte[] bytes = name().getBytes(StandardCharsets.US_ASCII);

    @Override
    public byte[] getBytes() {
      return bytes;
    }

    @Override
    public String toString() {
      return "probe " + name();
    }
  }

  /** Ends the transaction a probe opened: DISCARD, or EXEC of nothing when DISCARD is refused. */
  private static void leaveTransaction(RedisCommands<String, String> redis) {
    try {
      x(redis, Untracked.DISCARD, args());
    } catch (RedisCommandExecutionException refused) {
      try {
        x(redis, Untracked.EXEC, args());
      } catch (RedisCommandExecutionException alsoRefused) {
        // Stuck inside it: nothing else is sent on this connection (the scripts are not tried
        // when a right is missing), and closing it ends the transaction.
      }
    }
  }

  private static CommandArgs<String, String> args() {
    return new CommandArgs<>(StringCodec.UTF8);
  }

  private static void x(
      RedisCommands<String, String> redis, ProtocolKeyword type, CommandArgs<String, String> args) {
    redis.dispatch(type, new NestedMultiOutput<>(StringCodec.UTF8), args);
  }

  /** Deletes what the probes wrote; a user that may not is told so above. */
  private void clean() {
    try {
      redis.del(
          Set.of("string", "hash", "list", "list2", "set").stream()
              .map(suffix -> base + suffix)
              .toArray(String[]::new));
    } catch (RedisCommandExecutionException e) {
      // DEL or the keys refused: reported by the probes.
    }
  }
}
