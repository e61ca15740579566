package io.cachesync.redis;

import io.cachesync.redis.ClusterTopology.Master;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keyspace of a Redis Cluster read master by master: SCAN walks that see every key, and the
 * number of keys and random keys by master.
 *
 * <p><b>Walks.</b> SCAN is a command of one node, and a key is certain to be returned only if it
 * stays on the node for the whole scan. Lettuce's cluster-wide SCAN fixes its list of masters at
 * the first call: a slot that moves from a master not scanned yet to one scanned already hides its
 * keys, and a failover makes it fail. A walk here scans each master on its own node connection,
 * reads the topology ({@link ClusterTopology}) before and after, and scans again every master that
 * may hold a key it did not see there (one whose slots, epoch or role changed, one moving a slot,
 * one whose scan failed), until a round ends on the topology it started from. The callers delete by
 * version and idempotently, or count: a key seen twice costs nothing, one missed would be an orphan
 * left in the cache. While a master is unreachable and no replica serves its slots yet, or a slot
 * is half moved, the walk waits between rounds, with a backoff up to a second, for at most {@link
 * #SETTLE} after its first round.
 *
 * <p>One object serves several threads (a verify walks keys while it reads rows): a walk keeps its
 * state to itself.
 */
final class ClusterKeyspace {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterKeyspace.class);

  /** How long a walk waits, after its first round, for the cluster to hold still. */
  static final Duration SETTLE = Duration.ofSeconds(60);

  private static final Duration FIRST_PAUSE = Duration.ofMillis(100);
  private static final Duration LONGEST_PAUSE = Duration.ofSeconds(1);

  private final RedisClusterClient client;
  private final StatefulRedisClusterConnection<String, String> connection;

  /** Told the address of each master whose scan just ended: for the tests. */
  private volatile Consumer<String> afterMaster = address -> {};

  ClusterKeyspace(
      RedisClusterClient client, StatefulRedisClusterConnection<String, String> connection) {
    this.client = client;
    this.connection = connection;
  }

  /** What a walk hands its keys to. */
  interface Visitor {
    /**
     * A master's scan begins, again on a later round: whatever was counted on that master in an
     * earlier round is superseded by what this scan finds.
     */
    default void startMaster(String masterId) {}

    /** A page of keys; false stops the walk. */
    boolean page(List<String> keys);
  }

  /** Has {@code hook} told the address of each master whose scan ended, before the next begins. */
  void afterEachMaster(Consumer<String> hook) {
    this.afterMaster = hook;
  }

  /**
   * Hands every key {@code glob} matches on every master to {@code visitor}, a SCAN page at a time,
   * some more than once when the topology changed during the walk.
   *
   * @return the masters the walk ended on (none of them changed during the last round), or empty
   *     when the visitor stopped it
   * @throws IllegalStateException when the topology did not hold still for a round within {@link
   *     #SETTLE}
   */
  Optional<List<Master>> walk(String glob, int count, Visitor visitor) {
    ScanArgs match = ScanArgs.Builder.matches(glob).limit(count);
    ClusterTopology before = ClusterTopology.read(client, connection);
    List<Master> toScan = before.masters();
    long settled = 0;
    Duration pause = FIRST_PAUSE;
    for (int round = 1; ; round++) {
      Set<String> failed = new HashSet<>();
      for (Master master : toScan) {
        Scanned scanned = scan(master, match, visitor);
        if (scanned == Scanned.STOPPED) {
          return Optional.empty();
        }
        if (scanned == Scanned.FAILED) {
          failed.add(master.id());
        } else {
          afterMaster.accept(master.address());
        }
      }
      ClusterTopology after = ClusterTopology.read(client, connection);
      Set<String> again = after.rescanAfter(before, failed);
      boolean waiting = !failed.isEmpty() || after.migrating() || after.uncoveredSlots() > 0;
      if (again.isEmpty() && !waiting) {
        return Optional.of(after.masters());
      }
      if (round == 1) {
        settled = System.nanoTime() + SETTLE.toNanos();
      } else if (System.nanoTime() - settled > 0) {
        throw new IllegalStateException(
            "the Redis Cluster did not hold still for a whole walk of "
                + glob
                + " within "
                + SETTLE.toSeconds()
                + " s ("
                + after.problems()
                + "); the keys it holds were not all seen: run it again once the cluster is"
                + " stable");
      }
      List<Master> next = after.masters().stream().filter(m -> again.contains(m.id())).toList();
      LOG.info(
          "The Redis Cluster changed during round {} of a walk of {} ({}); scanning {} again{}",
          round,
          glob,
          after.problems(),
          next.stream().map(Master::address).toList(),
          waiting ? " in " + pause.toMillis() + " ms" : "");
      if (waiting) {
        pause(pause);
        Duration doubled = pause.multipliedBy(2);
        pause = doubled.compareTo(LONGEST_PAUSE) > 0 ? LONGEST_PAUSE : doubled;
      }
      before = after;
      toScan = next;
    }
  }

  private enum Scanned {
    DONE,
    STOPPED,
    FAILED
  }

  /**
   * Scans one master on its node connection. The next page is asked for before a page is handed
   * over, so that its round trip overlaps the visitor's work (a lookup in PostgreSQL). A failure of
   * Redis ends this master's scan only: it is scanned again, or the master that took its slots is;
   * a failure of the visitor is thrown.
   */
  private Scanned scan(Master master, ScanArgs match, Visitor visitor) {
    RedisAsyncCommands<String, String> node;
    KeyScanCursor<String> keys;
    try {
      node = nodeConnection(master).async();
      visitor.startMaster(master.id());
      keys = await(node.scan(ScanCursor.INITIAL, match));
    } catch (RedisException e) {
      LOG.info("Could not scan {} ({}); it is scanned again", master.address(), e.toString());
      return Scanned.FAILED;
    }
    while (true) {
      RedisFuture<KeyScanCursor<String>> next = keys.isFinished() ? null : node.scan(keys, match);
      if (!keys.getKeys().isEmpty() && !visitor.page(keys.getKeys())) {
        return Scanned.STOPPED;
      }
      if (next == null) {
        return Scanned.DONE;
      }
      try {
        keys = await(next);
      } catch (RedisException e) {
        LOG.info("Could not scan {} ({}); it is scanned again", master.address(), e.toString());
        return Scanned.FAILED;
      }
    }
  }

  /**
   * The number of keys on each master, read from a topology where every slot is served.
   *
   * @throws IllegalStateException when some slots are not: their keys cannot be counted
   */
  Map<Master, Long> sizes() {
    ClusterTopology topology = ClusterTopology.read(client, connection);
    if (topology.uncoveredSlots() > 0) {
      throw new IllegalStateException(
          "cannot count the keys of the Redis Cluster: " + topology.problems());
    }
    Map<Master, RedisFuture<Long>> replies = new LinkedHashMap<>();
    for (Master master : topology.masters()) {
      replies.put(master, nodeConnection(master).async().dbsize());
    }
    Map<Master, Long> sizes = new LinkedHashMap<>();
    replies.forEach((master, reply) -> sizes.put(master, await(reply)));
    return sizes;
  }

  /**
   * {@code count} keys drawn at random, with repeats: each draw picks a master with a chance in
   * proportion to its number of keys, then RANDOMKEY on it, so that every key of the cluster is as
   * likely to be drawn as on one master (Lettuce's RANDOMKEY asks a master picked at random, which
   * over-samples the keys of smaller masters). Fewer when the cluster is empty.
   */
  List<String> randomKeys(int count) {
    Map<Master, Long> sizes = sizes();
    long total = sizes.values().stream().mapToLong(Long::longValue).sum();
    List<String> keys = new ArrayList<>(count);
    if (total == 0) {
      return keys;
    }
    Map<Master, Integer> draws = new LinkedHashMap<>();
    for (int i = 0; i < count; i++) {
      long drawn = ThreadLocalRandom.current().nextLong(total);
      for (Map.Entry<Master, Long> size : sizes.entrySet()) {
        drawn -= size.getValue();
        if (drawn < 0) {
          draws.merge(size.getKey(), 1, Integer::sum);
          break;
        }
      }
    }
    List<RedisFuture<String>> replies = new ArrayList<>(count);
    draws.forEach(
        (master, n) -> {
          RedisAsyncCommands<String, String> node = nodeConnection(master).async();
          for (int i = 0; i < n; i++) {
            replies.add(node.randomkey());
          }
        });
    for (RedisFuture<String> reply : replies) {
      String key = await(reply);
      if (key != null) {
        keys.add(key);
      }
    }
    return keys;
  }

  /**
   * Lettuce's connection to the master, which does not follow redirections: a keyless command
   * (SCAN, DBSIZE, RANDOMKEY) runs on that node, even after it became a replica.
   */
  private StatefulRedisConnection<String, String> nodeConnection(Master master) {
    return connection.getConnection(master.id());
  }

  private <T> T await(RedisFuture<T> reply) {
    return LettuceFutures.awaitOrCancel(
        reply, connection.getTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  private static void pause(Duration pause) {
    LockSupport.parkNanos(pause.toNanos());
    if (Thread.currentThread().isInterrupted()) {
      throw new IllegalStateException("interrupted while waiting for the Redis Cluster to settle");
    }
  }
}
