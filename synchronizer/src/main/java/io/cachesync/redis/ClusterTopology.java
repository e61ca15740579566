package io.cachesync.redis;

import io.lettuce.core.RedisException;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * The masters of a Redis Cluster at one moment, each as it describes itself (its own line of {@code
 * CLUSTER NODES}): its node id, address, configuration epoch, the slots it serves, and the slots it
 * is migrating away or importing. Two readings taken around a walk of the keyspace tell which
 * masters may hold keys the walk did not see on them ({@link #rescanAfter}).
 *
 * <p>Each master is asked about itself rather than one node about all: gossip carries a change to
 * the other nodes only later, and Lettuce's own view ({@code Partitions}) leaves out the slots in
 * migration. The epoch is kept because a slot that leaves a master and comes back leaves its slot
 * set as it was: a master that takes a slot over ({@code CLUSTER SETSLOT ... NODE}, a failover)
 * ends with the cluster's highest epoch, Redis raising its own unless it already has it; the master
 * the slot went to took the highest, so the first one's epoch rose when it took it back.
 *
 * @param masters every node that said it is a master, in the order Lettuce lists them
 * @param unanswered the nodes Lettuce knows that did not answer, each id with why: for messages
 */
record ClusterTopology(List<Master> masters, List<String> unanswered) {
  static final int SLOTS = 16_384;

  ClusterTopology {
    masters = List.copyOf(masters);
    unanswered = List.copyOf(unanswered);
  }

  /**
   * A master as it described itself.
   *
   * @param slots the slots it serves, as it lists them ({@code 0-5460 5462}): two readings of the
   *     same set are equal
   * @param openSlots the slots it is migrating ({@code [5461->-<id>]}) or importing ({@code
   *     [5461-<-<id>]}): keys of such a slot are on both masters for a while
   */
  record Master(
      String id, String host, int port, long epoch, List<String> slots, List<String> openSlots) {
    Master {
      slots = List.copyOf(slots);
      openSlots = List.copyOf(openSlots);
    }

    /** {@code host:port}. */
    String address() {
      return host + ":" + port;
    }

    int slotCount() {
      return covered().cardinality();
    }

    BitSet covered() {
      BitSet covered = new BitSet(SLOTS);
      for (String range : slots) {
        int dash = range.indexOf('-');
        int first = Integer.parseInt(dash < 0 ? range : range.substring(0, dash));
        int last = dash < 0 ? first : Integer.parseInt(range.substring(dash + 1));
        covered.set(first, last + 1);
      }
      return covered;
    }
  }

  /**
   * Reads the topology: Lettuce reads the cluster's view again, then each node it knows and does
   * not take for failed is asked about itself, all at once.
   */
  static ClusterTopology read(
      RedisClusterClient client, StatefulRedisClusterConnection<String, String> connection) {
    client.refreshPartitions();
    Map<String, CompletableFuture<String>> replies = new LinkedHashMap<>();
    for (RedisClusterNode node : client.getPartitions()) {
      if (node.is(RedisClusterNode.NodeFlag.FAIL) || node.is(RedisClusterNode.NodeFlag.NOADDR)) {
        continue;
      }
      CompletableFuture<String> reply;
      try {
        reply =
            connection
                .getConnectionAsync(node.getNodeId())
                .thenCompose(nodeConnection -> nodeConnection.async().clusterNodes());
      } catch (RedisException e) {
        reply = CompletableFuture.failedFuture(e);
      }
      replies.put(node.getNodeId(), reply);
    }
    List<Master> masters = new ArrayList<>();
    List<String> unanswered = new ArrayList<>();
    long deadline = System.nanoTime() + LettuceClients.COMMAND_TIMEOUT.toNanos();
    for (Map.Entry<String, CompletableFuture<String>> reply : replies.entrySet()) {
      try {
        String nodes =
            reply.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        myself(nodes)
            .filter(ClusterTopology::isMaster)
            .map(ClusterTopology::master)
            .ifPresent(masters::add);
      } catch (ExecutionException e) {
        unanswered.add(reply.getKey() + " (" + e.getCause() + ")");
      } catch (TimeoutException | RuntimeException e) {
        unanswered.add(reply.getKey() + " (" + e + ")");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RedisException("interrupted while reading the cluster's topology", e);
      }
    }
    return new ClusterTopology(masters, unanswered);
  }

  /** The reporting node's own line of a {@code CLUSTER NODES} reply, split into its fields. */
  static Optional<String[]> myself(String clusterNodes) {
    for (String line : clusterNodes.split("\n")) {
      String[] fields = line.strip().split(" ");
      if (fields.length >= 8 && List.of(fields[2].split(",")).contains("myself")) {
        return Optional.of(fields);
      }
    }
    return Optional.empty();
  }

  private static boolean isMaster(String[] fields) {
    return List.of(fields[2].split(",")).contains("master");
  }

  /**
   * A master from its line: {@code <id> <host:port@bus[,hostname]> <flags> <master> <ping> <pong>
   * <epoch> <link> <slot>...}.
   */
  static Master master(String[] fields) {
    String address = fields[1];
    int comma = address.indexOf(',');
    if (comma >= 0) {
      address = address.substring(0, comma);
    }
    int at = address.indexOf('@');
    if (at >= 0) {
      address = address.substring(0, at);
    }
    int colon = address.lastIndexOf(':');
    List<String> slots = new ArrayList<>();
    List<String> open = new ArrayList<>();
    for (int i = 8; i < fields.length; i++) {
      (fields[i].startsWith("[") ? open : slots).add(fields[i]);
    }
    return new Master(
        fields[0],
        address.substring(0, colon),
        Integer.parseInt(address.substring(colon + 1)),
        Long.parseLong(fields[6]),
        slots,
        open);
  }

  /** How many slots no master that answered serves. */
  int uncoveredSlots() {
    BitSet covered = new BitSet(SLOTS);
    masters.forEach(master -> covered.or(master.covered()));
    return SLOTS - covered.cardinality();
  }

  /** Whether some master is moving a slot to another or taking one from another. */
  boolean migrating() {
    return masters.stream().anyMatch(master -> !master.openSlots().isEmpty());
  }

  /**
   * The masters of this reading whose keys a walk that scanned them after {@code before} was read
   * (and finished before this one) may not all have been seen, by id: a master that was not one
   * then, or whose epoch, address or slots changed since (it gained or lost a slot, or took one
   * back), one moving a slot now (its keys are on two masters), and one whose scan {@code failed}.
   * A master not among them served the same slots all along, so its scan saw every key of them that
   * existed throughout.
   */
  Set<String> rescanAfter(ClusterTopology before, Set<String> failed) {
    Map<String, Master> earlier =
        before.masters.stream()
            .collect(Collectors.toMap(Master::id, master -> master, (a, b) -> a));
    Set<String> again = new LinkedHashSet<>();
    for (Master master : masters) {
      if (!master.equals(earlier.get(master.id()))
          || !master.openSlots().isEmpty()
          || failed.contains(master.id())) {
        again.add(master.id());
      }
    }
    return again;
  }

  /** What a walk waits for, for a message: slots unserved, slots in migration, silent nodes. */
  String problems() {
    List<String> problems = new ArrayList<>();
    if (uncoveredSlots() > 0) {
      problems.add(uncoveredSlots() + " slots served by no master that answered");
    }
    masters.stream()
        .filter(master -> !master.openSlots().isEmpty())
        .forEach(
            master ->
                problems.add(master.address() + " has slots in migration " + master.openSlots()));
    if (!unanswered.isEmpty()) {
      problems.add("nodes did not answer: " + String.join(", ", unanswered));
    }
    return problems.isEmpty() ? "its masters changed" : String.join("; ", problems);
  }
}
