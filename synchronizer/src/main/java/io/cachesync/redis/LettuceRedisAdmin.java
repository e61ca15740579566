package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.models.partitions.ClusterPartitionParser;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@link RedisAdmin} over one Lettuce connection: to the master of {@code redis.uri}, or to one
 * master of a Redis Cluster. On a cluster's master the checks' throwaway keys go into slots that
 * master serves (see {@link #scratch}): a key of another slot would be refused with MOVED, and the
 * keys of one script or one DEL must share a slot.
 */
final class LettuceRedisAdmin implements RedisAdmin {
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;

  /** On a cluster's master, what the throwaway keys start with before their hash tag; else null. */
  private final String scratchPrefix;

  /** On a cluster's master, the slots the cluster's topology says it serves; else null. */
  private final HashSlots topologySlots;

  private LettuceRedisAdmin(
      RedisClient client,
      StatefulRedisConnection<String, String> connection,
      String scratchPrefix,
      HashSlots topologySlots) {
    this.client = client;
    this.connection = connection;
    this.scratchPrefix = scratchPrefix;
    this.topologySlots = topologySlots;
  }

  static RedisAdmin connect(RedisSettings settings) throws ServerUnreachableException {
    try {
      return connectOnce(settings);
    } catch (ServerUnreachableException e) {
      // Lettuce sometimes reports a handshake Redis refused (a wrong password) as the connection
      // closing under it; a second attempt gets Redis's own answer.
      if (!String.valueOf(e.getMessage()).contains("closed prematurely")) {
        throw e;
      }
      return connectOnce(settings);
    }
  }

  private static RedisAdmin connectOnce(RedisSettings settings) throws ServerUnreachableException {
    return open(settings, LettuceClients.oneShot(settings), null, null);
  }

  /**
   * Connects to one master of a Redis Cluster, with the user, password and TLS of the cluster's
   * seeds.
   *
   * @param scratchPrefix see {@link ClusterAdmin#master}
   */
  static RedisAdmin connectToClusterMaster(
      RedisSettings settings, ClusterAdmin.Master master, String scratchPrefix)
      throws ServerUnreachableException {
    return open(
        settings,
        LettuceClients.nonReconnecting(settings, master.host(), master.port(), null),
        scratchPrefix,
        master.slots());
  }

  private static RedisAdmin open(
      RedisSettings settings, RedisClient client, String scratchPrefix, HashSlots topologySlots)
      throws ServerUnreachableException {
    try {
      return new LettuceRedisAdmin(client, client.connect(), scratchPrefix, topologySlots);
    } catch (RedisConnectionException e) {
      client.shutdown();
      throw LettuceClients.connectFailed(settings, e);
    } catch (RuntimeException e) {
      client.shutdown();
      throw e;
    }
  }

  @Override
  public Map<String, String> info(String section) {
    String info;
    try {
      info = connection.sync().info(section);
    } catch (RedisCommandExecutionException e) {
      return new LinkedHashMap<>(); // INFO refused (an ACL): the preflight's ACL check names it
    }
    return fields(info);
  }

  @Override
  public Map<String, String> clusterInfo() {
    try {
      return fields(connection.sync().clusterInfo());
    } catch (RedisCommandExecutionException e) {
      // Refused (an ACL, which the preflight's ACL check names), or not a cluster's node.
      return new LinkedHashMap<>();
    }
  }

  @Override
  public Optional<ClusterAdmin.View> clusterView() {
    String nodes;
    try {
      nodes = connection.sync().clusterNodes();
    } catch (RedisCommandExecutionException e) {
      return Optional.empty();
    }
    HashSlots own = HashSlots.none();
    Map<String, HashSlots> masters = new LinkedHashMap<>();
    for (RedisClusterNode node : ClusterPartitionParser.parse(nodes)) {
      HashSlots slots = HashSlots.of(node.getSlots());
      if (node.is(RedisClusterNode.NodeFlag.MYSELF)) {
        own = slots;
      }
      if (node.is(RedisClusterNode.NodeFlag.UPSTREAM) && node.getUri() != null) {
        masters.put(
            ClusterAdmin.Master.address(node.getUri().getHost(), node.getUri().getPort()), slots);
      }
    }
    return Optional.of(new ClusterAdmin.View(own, masters));
  }

  /** The {@code name:value} lines of an INFO-like reply. */
  private static Map<String, String> fields(String reply) {
    Map<String, String> fields = new LinkedHashMap<>();
    for (String line : reply.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("#")) {
        fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
      }
    }
    return fields;
  }

  @Override
  public Optional<String> configGet(String parameter) {
    try {
      return Optional.ofNullable(connection.sync().configGet(parameter).get(parameter));
    } catch (RedisCommandExecutionException e) {
      return Optional.empty();
    }
  }

  @Override
  public List<String> scriptProblems(String stateKeyPrefix) {
    if (scratchPrefix == null) {
      return new ScriptTrial(connection.sync(), stateKeyPrefix).problems();
    }
    HashSlots served = served();
    if (served.isEmpty()) {
      return List.of(
          "the writer's Lua scripts could not be tried: this master serves no hash slot (its own"
              + " CLUSTER NODES)");
    }
    // Two slots where the master has two: the cluster writer's scripts declare one key and write
    // rows of other slots, and the trial does the same.
    return ScriptTrial.onClusterMaster(
            connection.sync(), stateKeyPrefix, scratch(served.lowest()), scratch(served.highest()))
        .problems();
  }

  @Override
  public RedisRights.Gaps lacking(RedisRights rights, String stateKeyPrefix) {
    if (scratchPrefix == null) {
      return new AclProbe(connection.sync(), stateKeyPrefix).run(rights);
    }
    // Redis checks the ACL before it redirects: the probes answer alike in a slot served
    // elsewhere, but only in one of this master's are the few keys they write written here.
    HashSlots served = served();
    int slot = served.isEmpty() ? topologySlots.lowest() : served.lowest();
    return AclProbe.onClusterMaster(connection.sync(), stateKeyPrefix, scratch(slot)).run(rights);
  }

  /** The slots this master serves by its own account, else by the cluster's topology. */
  private HashSlots served() {
    return clusterView().map(ClusterAdmin.View::ownSlots).orElse(topologySlots);
  }

  /**
   * Where throwaway keys go in {@code slot}: {@code <scratchPrefix>{<tag>}:}, the hash tag putting
   * every key that starts so in that slot.
   */
  private String scratch(int slot) {
    return scratchPrefix + "{" + SlotTags.tag(slot) + "}:";
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
