package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * {@link ClusterAdmin} over Lettuce's cluster client: the topology is what the client learns from
 * the seeds ({@code CLUSTER NODES}, as the writer learns it), and each master is reached with a
 * connection of its own.
 */
final class LettuceClusterAdmin implements ClusterAdmin {
  private final RedisSettings settings;
  private final RedisClusterClient client;
  private final Partitions partitions;

  private LettuceClusterAdmin(
      RedisSettings settings, RedisClusterClient client, Partitions partitions) {
    this.settings = settings;
    this.client = client;
    this.partitions = partitions;
  }

  static ClusterAdmin connect(RedisSettings settings) throws ServerUnreachableException {
    RedisClusterClient client = LettuceClients.cluster(settings);
    try {
      return new LettuceClusterAdmin(settings, client, client.getPartitions());
    } catch (RedisException e) {
      client.shutdown();
      throw topologyFailed(settings, e);
    } catch (RuntimeException e) {
      client.shutdown();
      throw e;
    }
  }

  /**
   * Why no topology could be read. Lettuce reports one failure for all seeds and hangs each seed's
   * own failure on it as a suppressed exception: a refusal among them (a user without {@code
   * CLUSTER NODES}, a wrong password) says more than the seeds that could not be reached.
   *
   * @throws RedisRefusedException when a seed refused the login or the topology
   */
  private static ServerUnreachableException topologyFailed(
      RedisSettings settings, RedisException e) {
    Optional<Throwable> noPermission =
        find(
            e, t -> t instanceof RedisCommandExecutionException && message(t).startsWith("NOPERM"));
    if (noPermission.isPresent()) {
      RedisRefusedException refused =
          new RedisRefusedException(
              "the Redis Cluster at "
                  + settings.redactedUri()
                  + " refused its topology to the user of redis.uri ("
                  + message(noPermission.get())
                  + "), which the cluster client reads to find the masters; grant +cluster|nodes"
                  + " (`cachesync grants --redis` prints the ACL SETUSER line of every right"
                  + " cachesync needs, to run on every node of the cluster)");
      refused.addSuppressed(e);
      throw refused;
    }
    Optional<Throwable> seed =
        find(e, t -> t instanceof RedisCommandExecutionException)
            .or(() -> find(e, RedisConnectionException.class::isInstance));
    RuntimeException cause =
        seed.map(t -> t instanceof RuntimeException runtime ? runtime : e).orElse(e);
    return LettuceClients.connectFailed(settings, cause);
  }

  /** The first of {@code failure}, its causes and their suppressed exceptions that matches. */
  private static Optional<Throwable> find(Throwable failure, Predicate<Throwable> test) {
    Deque<Throwable> pending = new ArrayDeque<>(List.of(failure));
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    while (!pending.isEmpty()) {
      Throwable next = pending.removeFirst();
      if (!seen.add(next)) {
        continue;
      }
      if (test.test(next)) {
        return Optional.of(next);
      }
      if (next.getCause() != null) {
        pending.addLast(next.getCause());
      }
      pending.addAll(List.of(next.getSuppressed()));
    }
    return Optional.empty();
  }

  private static String message(Throwable t) {
    return String.valueOf(t.getMessage());
  }

  @Override
  public List<Master> masters() {
    return partitions.stream()
        .filter(node -> node.is(RedisClusterNode.NodeFlag.UPSTREAM) && !node.getSlots().isEmpty())
        .map(
            node ->
                new Master(
                    node.getNodeId(),
                    node.getUri().getHost(),
                    node.getUri().getPort(),
                    HashSlots.of(node.getSlots()),
                    node.is(RedisClusterNode.NodeFlag.FAIL)))
        .sorted(Comparator.comparing(Master::host).thenComparingInt(Master::port))
        .toList();
  }

  @Override
  public RedisAdmin master(Master master, String scratchPrefix) throws ServerUnreachableException {
    return LettuceRedisAdmin.connectToClusterMaster(settings, master, scratchPrefix);
  }

  @Override
  public void close() {
    client.shutdown();
  }
}
