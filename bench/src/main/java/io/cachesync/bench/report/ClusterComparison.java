package io.cachesync.bench.report;

import io.cachesync.bench.measure.Drain;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The cluster workloads (C1, C4): the same backlogs drained by the daemon on one Redis and by the
 * daemon on a Redis Cluster, round after round.
 *
 * @param masters the cluster's masters
 * @param workloads one per cluster workload, in the order run
 */
public record ClusterComparison(int masters, List<Workload> workloads) {
  public ClusterComparison {
    workloads = List.copyOf(workloads);
  }

  /**
   * One cluster workload.
   *
   * @param id {@code C1}, {@code C4}
   * @param title what it does, as the table's header says it
   * @param rounds the rounds in order: the first drained with the daemons' JIT still cold
   */
  public record Workload(String id, String title, List<Round> rounds) {
    public Workload {
      rounds = List.copyOf(rounds);
    }
  }

  /**
   * One backlog, drained by each daemon in turn.
   *
   * @param condition what sets the round apart: {@code JIT cold}, {@code warm, same JVMs}, or the
   *     CPU quota its redis-servers were held to
   * @param redisShare the share of one core each redis-server was held to; 0 when not held
   */
  public record Round(Drained oneMaster, Drained cluster, String condition, double redisShare) {
    /** A round whose redis-servers were not held to a share of a core. */
    public Round(Drained oneMaster, Drained cluster, String condition) {
      this(oneMaster, cluster, condition, 0);
    }

    /** The cluster's catch-up rate / one master's. */
    public double ratio() {
      return cluster.drain().rate() / oneMaster.drain().rate();
    }
  }

  /**
   * One daemon's drain of one backlog, with the CPU time each process used over it; empty where it
   * could not be read.
   *
   * @param daemon the daemon's JVM
   * @param walSender the WAL senders of the daemon's replication slot
   * @param redis the redis-server the daemon writes to; on the cluster, every master's together
   * @param busiestRedis the most any one of those redis-servers used: on one Redis, {@code redis}
   */
  public record Drained(
      Drain drain,
      Optional<Duration> daemon,
      Optional<Duration> walSender,
      Optional<Duration> redis,
      Optional<Duration> busiestRedis) {}
}
