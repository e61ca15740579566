package io.cachesync.redis;

import static java.util.Objects.requireNonNull;

import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableMapping;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisURI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What the Redis user of {@code redis.uri} must be allowed, as Redis ACL rules: the commands the
 * daemon and every command of the command line send (directly, inside the Lua scripts, and on
 * connect), the key patterns of the mapped tables and of the synchronizer's state, and the channel
 * it publishes on. {@code cachesync grants --redis} prints it and the preflight checks it.
 *
 * <p>On a Redis Cluster ({@link #CLUSTER}) ACL users are kept per node, so every node needs these
 * rights (a replica too: a failover makes it a master); the state keys are {@code
 * {cachesync:<name>}:*} and each master holds a shard key {@code cachesync:<name>:shard:*}; there
 * is only database 0, so never {@code SELECT}.
 *
 * <p>Not in it: {@code HELLO} and {@code AUTH}, which Redis runs for any user; {@code CONFIG GET},
 * which would also reveal {@code requirepass} (the preflight reads the eviction policy from {@code
 * INFO} instead, and the writer assumes Redis's default {@code proto-max-bulk-len} when refused);
 * {@code CLIENT SETINFO}, which Lettuce sends on Redis 7.2 and later and goes on without (naming it
 * makes {@code ACL SETUSER} fail on older Redis).
 *
 * @param user the ACL user cachesync logs in as: the user of {@code redis.uri}, {@code default}
 *     when the URI names none
 * @param commands in Redis's ACL names ({@code evalsha}, {@code client|kill})
 * @param keyPatterns glob patterns of the keys cachesync reads and writes
 * @param channels the channels it publishes on
 */
public record RedisRights(
    String user, List<Command> commands, List<KeyPattern> keyPatterns, List<String> channels) {

  /** The owner of the synchronizer's own keys' pattern. */
  public static final String STATE = "state";

  /** The user Redis logs a client in as when it names none. */
  public static final String DEFAULT_USER = "default";

  /**
   * A command, and why cachesync sends it.
   *
   * @param name as ACL rules name it: lower case, a subcommand after {@code |}
   */
  public record Command(String name, String use) {
    public Command {
      requireNonNull(name, "name");
      requireNonNull(use, "use");
    }

    /** As people write it: {@code CLIENT KILL}. */
    public String display() {
      return name.replace('|', ' ').toUpperCase(Locale.ROOT);
    }
  }

  /**
   * A key pattern and whose keys it covers.
   *
   * @param pattern a glob pattern, as {@code ~} takes it in an ACL rule
   * @param owner a mapped table ({@code public.users}) or {@link #STATE}
   * @param sample a key that matches the pattern and that no row renders, for probing the right
   * @param broad whether the pattern covers every key: a key template that starts with a
   *     placeholder has no literal prefix to confine it
   */
  public record KeyPattern(String pattern, String owner, String sample, boolean broad) {
    public KeyPattern {
      requireNonNull(pattern, "pattern");
      requireNonNull(owner, "owner");
      requireNonNull(sample, "sample");
    }
  }

  /**
   * What a user lacks of these rights, as Redis answered the preflight's probes; every list empty
   * when nothing.
   */
  public record Gaps(List<Command> commands, List<KeyPattern> keyPatterns, List<String> channels) {
    public Gaps {
      commands = List.copyOf(commands);
      keyPatterns = List.copyOf(keyPatterns);
      channels = List.copyOf(channels);
    }
  }

  public RedisRights {
    requireNonNull(user, "user");
    commands = List.copyOf(commands);
    keyPatterns = List.copyOf(keyPatterns);
    channels = List.copyOf(channels);
  }

  /** The commands every configuration needs. */
  static final List<Command> ALWAYS =
      List.of(
          new Command("evalsha", "runs the Lua scripts of every write, eviction and position"),
          new Command("eval", "saves the offsets, holds the writer's lease, moves resync requests"),
          new Command("script|load", "loads the Lua scripts"),
          new Command("multi", "a batch is one transaction"),
          new Command("exec", "a batch is one transaction"),
          new Command("discard", "ends a transaction that could not be sent whole"),
          new Command("watch", "a batch watches the stored position and the writer's lease"),
          new Command("unwatch", "drops the watch of a batch that is not sent"),
          new Command("client|id", "finds the writer's earlier connections after a failure"),
          new Command("client|list", "finds the writer's earlier connections after a failure"),
          new Command("client|kill", "closes the writer's earlier connections after a failure"),
          new Command("info", "preflight: version, role and eviction policy"),
          new Command(
              "dbsize",
              "status and verify: how many keys Redis holds; each connection's first command"),
          new Command("randomkey", "status: samples keys when Redis holds many"),
          new Command("scan", "TRUNCATE, resync, verify and status find a table's keys"),
          new Command("type", "checks a cached value's type"),
          new Command("exists", "state: a pending sweep or TRUNCATE"),
          new Command("del", "evicts keys; clears state"),
          new Command("expire", "a table's ttl; a resync request's status"),
          new Command(
              "persist", "a hash updated in place without a ttl; a resync request's status"),
          new Command("pttl", "status: when the writer's lease expires"),
          new Command("get", "json values; the writer's lease"),
          new Command("set", "json values; the writer's lease"),
          new Command("getrange", "the version at the head of a json value"),
          new Command("hget", "a hash's version; the stored position"),
          new Command("hgetall", "verify reads hashes; status and state read theirs"),
          new Command("hkeys", "fields to remove from a hash updated in place; status"),
          new Command("hmget", "keeps unchanged TOASTed fields of a hash"),
          new Command("hexists", "checks a hash updated in place holds its unchanged fields"),
          new Command("hlen", "checks a hash updated in place holds no other field"),
          new Command("hset", "hash values; the position, offsets and resync status"),
          new Command("hsetnx", "the state's epoch"),
          new Command(
              "hdel", "fields of columns that became NULL; the applied bound; finished TRUNCATEs"),
          new Command("llen", "status: resync requests queued and taken"),
          new Command("lpush", "puts a resync request back"),
          new Command("rpush", "queues a resync request"),
          new Command("lrem", "finishes a resync request"),
          new Command("lmove", "takes a resync request"),
          new Command("rpoplpush", "puts back resync requests an earlier daemon took"),
          new Command("sadd", "records the loaded tables"),
          new Command("smembers", "reads the loaded tables"),
          new Command(
              "publish", "announces the read-your-writes bound on cachesync:<name>:applied"));

  /**
   * What a Redis Cluster needs besides: the cluster client learns the topology with {@code CLUSTER
   * NODES} and {@code INFO} on connections it names with {@code CLIENT SETNAME} (and logs a refusal
   * of it in Redis's ACL log), and the preflight reads {@code CLUSTER INFO}.
   */
  static final List<Command> CLUSTER =
      List.of(
          new Command(
              "cluster|nodes",
              "the cluster client finds the masters and their slots; preflight: the slots each"
                  + " master serves"),
          new Command("cluster|info", "preflight: whether each master sees the cluster ok"),
          new Command("client|setname", "the cluster client names its topology connections"));

  /** INFO on a Redis Cluster, which the cluster client sends too. */
  private static final Command INFO_ON_A_CLUSTER =
      new Command(
          "info", "preflight: version, role and eviction policy; the cluster client's topology");

  /** What the configuration needs. */
  public static RedisRights of(Configuration configuration) {
    return of(configuration.settings(), configuration.mapping().tables());
  }

  /** What these settings and tables need. */
  public static RedisRights of(SynchronizerSettings settings, List<TableMapping> tables) {
    boolean cluster = settings.redis().cluster();
    // A cluster's URI names several nodes, which Lettuce does not parse as one: every seed carries
    // the same user.
    RedisURI uri =
        cluster
            ? RedisURI.create(settings.redis().clusterSeeds().get(0))
            : LettuceClients.uri(settings.redis());
    RedisCredentials credentials = uri.getCredentialsProvider().resolveCredentials().block();
    String user =
        credentials != null && credentials.hasUsername() ? credentials.getUsername() : DEFAULT_USER;
    List<Command> commands = new ArrayList<>(ALWAYS);
    if (cluster) {
      commands.replaceAll(c -> c.name().equals("info") ? INFO_ON_A_CLUSTER : c);
      commands.addAll(CLUSTER);
    }
    if (!cluster && uri.getDatabase() != 0) {
      commands.add(new Command("select", "Lettuce selects database " + uri.getDatabase()));
    }
    if (settings.redis().waitReplicas() > 0) {
      commands.add(new Command("wait", "redis.waitReplicas: replicas acknowledge each batch"));
    }
    List<KeyPattern> patterns = new ArrayList<>();
    for (TableMapping table : tables) {
      patterns.add(pattern(table.key(), table.table().toString()));
    }
    String state = settings.stateKeyPrefix();
    patterns.add(new KeyPattern(globEscape(state) + "*", STATE, state + "preflight", false));
    if (cluster) {
      // Each master's shard key, and the preflight's throwaway keys, which must be in slots of
      // every master and so cannot share the state keys' hash tag.
      String shards = settings.shardKeyPrefix();
      patterns.add(new KeyPattern(globEscape(shards) + "*", STATE, shards + "preflight", false));
    }
    return new RedisRights(user, commands, patterns, List.of(state + "applied"));
  }

  /**
   * The keys of a template: its literal prefix, glob characters escaped, then {@code *}; every key
   * when it starts with a placeholder.
   */
  static KeyPattern pattern(KeyTemplate key, String table) {
    String sample = "cachesync-preflight-probe";
    if (key.segments().isEmpty() || !(key.segments().get(0) instanceof KeyTemplate.Literal)) {
      return new KeyPattern("*", table, sample, true);
    }
    // The pattern SCAN MATCH uses for the table (one place builds it), with '?' for each white
    // space character, which Redis refuses in an ACL pattern.
    StringBuilder glob = new StringBuilder();
    key.prefixGlob()
        .codePoints()
        .forEach(c -> glob.appendCodePoint(Character.isWhitespace(c) ? '?' : c));
    return new KeyPattern(glob.toString(), table, key.literalPrefix() + sample, false);
  }

  /** Escapes the glob characters of a literal text, as SCAN MATCH and ACL key patterns read it. */
  static String globEscape(String literal) {
    return KeyTemplate.escapeGlob(literal);
  }
}
