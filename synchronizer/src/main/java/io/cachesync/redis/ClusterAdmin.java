package io.cachesync.redis;

import static java.util.Objects.requireNonNull;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import java.util.List;
import java.util.Map;

/**
 * What the preflight asks a Redis Cluster as a whole: its masters and the slots each serves in the
 * cluster's topology. Everything else is per node in a cluster (INFO, the configuration, ACL users,
 * the script cache, CLUSTER INFO), so each master answers it as a {@link RedisAdmin} of its own.
 */
public interface ClusterAdmin extends AutoCloseable {

  /**
   * Reads the topology of the cluster the settings name, from the first of its seeds that answers.
   *
   * @throws ServerUnreachableException when no seed can be reached
   * @throws RedisRefusedException when a seed answered but refused the login or the topology
   */
  static ClusterAdmin connect(RedisSettings settings) throws ServerUnreachableException {
    return LettuceClusterAdmin.connect(settings);
  }

  /** The masters that serve slots, as the cluster's topology names them, by address. */
  List<Master> masters();

  /**
   * Connects to one master. The throwaway keys of its checks go under {@code scratchPrefix}, then a
   * hash tag of a slot the master serves, so that each check's keys share one slot and that slot is
   * on this master: {@code <scratchPrefix>{<tag>}:<uuid>:...}.
   *
   * @throws ServerUnreachableException when it cannot be reached
   * @throws RedisRefusedException when it refused the login
   */
  RedisAdmin master(Master master, String scratchPrefix) throws ServerUnreachableException;

  @Override
  void close();

  /**
   * The cluster as one node sees it, from its {@code CLUSTER NODES}: nodes learn of a change by
   * gossip, so views differ for a while, and a node that stopped serving a slot may still be its
   * owner in the others' views.
   *
   * @param ownSlots the slots the node says it serves itself
   * @param mastersSlots the slots of each master by its address ({@link Master#address()}), failed
   *     ones included
   */
  record View(HashSlots ownSlots, Map<String, HashSlots> mastersSlots) {
    public View {
      requireNonNull(ownSlots, "ownSlots");
      mastersSlots = Map.copyOf(mastersSlots);
    }
  }

  /**
   * A master as the cluster's topology shows it.
   *
   * @param id its node id
   * @param slots the slots the topology says it serves (the node itself may say otherwise: {@link
   *     RedisAdmin#clusterView()})
   * @param failing whether the cluster flags it failed ({@code fail})
   */
  record Master(String id, String host, int port, HashSlots slots, boolean failing) {
    public Master {
      requireNonNull(id, "id");
      requireNonNull(host, "host");
      requireNonNull(slots, "slots");
    }

    /** {@code host:port}, as the findings name it. */
    public String address() {
      return address(host, port);
    }

    static String address(String host, int port) {
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
  }
}
