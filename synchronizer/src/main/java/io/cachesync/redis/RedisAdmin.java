package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The few server-level questions the synchronizer asks Redis, behind a narrow interface. */
public interface RedisAdmin extends AutoCloseable {

  /**
   * Connects to the master named by the settings (through Sentinel for {@code redis-sentinel://}).
   *
   * @throws ServerUnreachableException when no connection can be made
   * @throws RedisRefusedException when Redis answered but refused the login
   */
  static RedisAdmin connect(RedisSettings settings) throws ServerUnreachableException {
    return LettuceRedisAdmin.connect(settings);
  }

  /**
   * The fields of one {@code INFO} section, e.g. {@code server} or {@code replication}; none when
   * the user may not run {@code INFO}.
   */
  Map<String, String> info(String section);

  /**
   * The value of a configuration parameter, or empty when {@code CONFIG GET} is not allowed (as on
   * several managed Redis services).
   */
  Optional<String> configGet(String parameter);

  /**
   * The fields of {@code CLUSTER INFO} as this node sees the cluster ({@code cluster_state}, {@code
   * cluster_slots_ok}, ...); none when the user may not run it or the node is not a cluster's.
   */
  Map<String, String> clusterInfo();

  /**
   * The cluster as this node sees it ({@code CLUSTER NODES}): the slots it says it serves itself,
   * which other nodes may not know yet, and those of every master; empty when the user may not ask
   * or the node is not a cluster's.
   */
  Optional<ClusterAdmin.View> clusterView();

  /**
   * Runs each of the writer's scripts once on throwaway keys under {@code stateKeyPrefix} (on a
   * cluster's master, in slots it serves: {@link ClusterAdmin#master}), as the writer calls them;
   * what failed, each with its fix, or empty when every script ran.
   */
  List<String> scriptProblems(String stateKeyPrefix);

  /**
   * Which of {@code rights} the logged-in user lacks, probed without changing anything cachesync or
   * an application keeps (throwaway keys go under {@code stateKeyPrefix}; on a cluster's master,
   * into a slot it serves: {@link ClusterAdmin#master}).
   */
  RedisRights.Gaps lacking(RedisRights rights, String stateKeyPrefix);

  @Override
  void close();
}
