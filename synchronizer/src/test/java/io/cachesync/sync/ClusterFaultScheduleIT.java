package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.sync.RandomizedConsistencyIT.Comparison;
import io.cachesync.sync.RandomizedConsistencyIT.Workload;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisCluster;
import io.cachesync.testing.RedisCluster.Node;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestServers;
import io.cachesync.testing.WriteHistory;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The randomized consistency test on a Redis Cluster (3 masters, a replica each) under a fault
 * schedule drawn from the seed: while the seeded generator writes, the daemon (the real jar, in its
 * own process) is killed, a master is failed over to its replica ({@code CLUSTER FAILOVER}), a
 * master is killed and its replica promoted, slots move between masters during writes, and a master
 * restarts empty. Every write each server applies is watched (MONITOR), and none may lower a key's
 * version; at the end Redis must equal PostgreSQL, both ways. Same summary line as {@link
 * FaultScheduleIT}.
 *
 * <p>{@code cachesync.seed} replays a schedule; {@code cachesync.clusterKills} sets the daemon
 * kills (default 8).
 */
class ClusterFaultScheduleIT {
  private static final int KILLS = Integer.getInteger("cachesync.clusterKills", 8);
  private static final Duration MARKER_WAIT = Duration.ofMinutes(5);
  private static final String STREAMING = "Streaming from replication slot";

  /** What can happen to the daemon and the cluster. */
  enum Fault {
    KILL_DAEMON,
    FAILOVER_MASTER,
    KILL_MASTER,
    RESHARD,
    RESTART_MASTER_EMPTY
  }

  private PostgresServer postgres;
  private SyncHarness harness;
  private RedisCluster cluster;
  private final List<WriteHistory> histories = new ArrayList<>();
  private DaemonProcess daemon;
  private RedisClusterClient client;
  private StatefulRedisClusterConnection<String, String> connection;
  private int starts;

  @BeforeEach
  void setUp() {
    postgres = TestServers.sharedPostgres();
    harness = new SyncHarness(postgres, "clusterfaults");
    cluster = TestServers.redisCluster(3, 1);
    for (RedisServer server : cluster.servers()) {
      histories.add(new WriteHistory(server));
    }
    client =
        RedisClusterClient.create(
            cluster.seeds().stream().map(seed -> RedisURI.create("redis://" + seed)).toList());
    connection = client.connect();
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    histories.forEach(WriteHistory::close);
    if (connection != null) {
      connection.close();
      client.shutdown();
    }
    if (cluster != null) {
      cluster.close();
    }
    harness.close();
  }

  @Test
  void randomTransactionsUnderClusterFaults_loseNothingRegressNothingAndConverge()
      throws Exception {
    long seed = Long.getLong("cachesync.seed", new SecureRandom().nextLong());
    System.out.println("seed=" + seed);
    Random random = new Random(seed);
    List<Fault> schedule = new ArrayList<>(Collections.nCopies(KILLS, Fault.KILL_DAEMON));
    schedule.addAll(
        List.of(
            Fault.FAILOVER_MASTER,
            Fault.FAILOVER_MASTER,
            Fault.KILL_MASTER,
            Fault.RESHARD,
            Fault.RESHARD,
            Fault.RESTART_MASTER_EMPTY));
    Collections.shuffle(schedule, random);
    long started = System.nanoTime();
    harness.sql(RandomizedConsistencyIT.SCHEMA);
    Workload workload =
        new Workload(
            postgres.connect(harness.database),
            new Random(random.nextLong()),
            RandomizedConsistencyIT.trace());
    workload.populate();
    daemon =
        new DaemonProcess(harness.configFor(cluster.uri(), 0, RandomizedConsistencyIT.MAPPING))
            .start();

    AtomicReference<Throwable> writerFailure = new AtomicReference<>();
    ScheduledExecutorService writer = Executors.newSingleThreadScheduledExecutor();
    writer.scheduleWithFixedDelay(
        () -> {
          try {
            workload.run(5);
          } catch (Throwable e) {
            writerFailure.compareAndSet(null, e);
            throw new IllegalStateException(e);
          }
        },
        0,
        10,
        TimeUnit.MILLISECONDS);

    Map<Fault, Integer> injected = new EnumMap<>(Fault.class);
    List<String> unexpectedExits = new ArrayList<>();
    for (Fault fault : schedule) {
      awaitStreaming();
      hold(random, 300, 3_000);
      if (!daemon.alive()) {
        unexpectedExits.add(daemon.tail());
        daemon.start();
      }
      List<Node> masters = cluster.masters();
      Node master = masters.get(random.nextInt(masters.size()));
      System.out.printf(
          "fault %d/%d at %.3f: %s of %d%n",
          injected.values().stream().mapToInt(Integer::intValue).sum() + 1,
          schedule.size(),
          System.currentTimeMillis() / 1000.0,
          fault.name().toLowerCase(),
          master.port());
      switch (fault) {
        case KILL_DAEMON -> {
          daemon.kill();
          starts = daemon.count(STREAMING);
          daemon.start();
        }
        case FAILOVER_MASTER -> {
          cluster.failover(master.port());
          // A cluster failover closes no client: the monitors read each server's role again.
          histories.forEach(WriteHistory::reconnect);
        }
        case KILL_MASTER -> {
          cluster.killMaster(master.port());
          histories.forEach(WriteHistory::reconnect);
          hold(random, 500, 2_000);
          cluster.rejoin(master.port());
          histories.forEach(WriteHistory::reconnect);
        }
        case RESHARD -> {
          Node to = masters.get((masters.indexOf(master) + 1) % masters.size());
          double from = System.currentTimeMillis() / 1000.0;
          cluster.reshard(master.port(), to.port(), 100 + random.nextInt(1_500));
          // The writer may still meet the old topology for a moment after redis-cli is done.
          migrations.add(new double[] {from, System.currentTimeMillis() / 1000.0 + 2});
        }
        case RESTART_MASTER_EMPTY -> cluster.restartMasterEmpty(master.port());
      }
      injected.merge(fault, 1, Integer::sum);
    }
    writer.shutdown();
    assertThat(writer.awaitTermination(1, TimeUnit.MINUTES)).isTrue();
    assertThat(writerFailure.get()).as("the generator").isNull();
    if (!daemon.alive()) {
      unexpectedExits.add(daemon.tail());
      daemon.start();
    }
    cluster.awaitStable();
    client.refreshPartitions();

    harness.sql(
        "INSERT INTO users (id, name) VALUES ("
            + RandomizedConsistencyIT.MARKER_ID
            + ", 'marker')");
    try {
      await("the marker row in Redis")
          .atMost(MARKER_WAIT)
          .failFast("the daemon exited", () -> !daemon.alive())
          .ignoreExceptions()
          .until(() -> connection.sync().exists("user:" + RandomizedConsistencyIT.MARKER_ID) == 1);
    } catch (org.awaitility.core.ConditionTimeoutException
        | org.awaitility.core.TerminalFailureException e) {
      throw new AssertionError(
          "seed="
              + seed
              + ": the daemon did not stream the marker row; its notable lines:\n"
              + daemon.decisions(60)
              + "\nits last lines:\n"
              + daemon.tail()
              + "\nthe cluster:\n"
              + cluster.describe(),
          e);
    }
    AtomicReference<Comparison> last = new AtomicReference<>();
    String summary = "";
    try {
      await("Redis to match PostgreSQL")
          .atMost(RandomizedConsistencyIT.SETTLE)
          .pollInterval(Duration.ofSeconds(1))
          .untilAsserted(
              () -> {
                last.set(RandomizedConsistencyIT.compare(harness, connection.sync()));
                assertThat(last.get().divergences())
                    .withFailMessage(
                        "seed=%d: %d divergent keys, the first:%n%s",
                        seed, last.get().divergences().size(), last.get().first(20))
                    .isEmpty();
              });
      for (WriteHistory history : histories) {
        history.awaitCaughtUp(Duration.ofMinutes(2));
      }
    } finally {
      summary =
          String.format(
              "seed=%d, %d transactions, %d faults (%s), %s divergent keys, %d regressions (%d"
                  + " of them while slots moved; %d writes watched on %d servers), %d masters repaired"
                  + " alone, %d reloads of every table, %d unexpected daemon exits, %d s",
              seed,
              workload.transactions,
              schedule.size(),
              injected.entrySet().stream()
                  .map(e -> e.getValue() + " " + e.getKey().name().toLowerCase())
                  .collect(Collectors.joining(", ")),
              last.get() == null ? "?" : Integer.toString(last.get().divergences().size()),
              allRegressions().size(),
              allRegressions().size() - regressions().size(),
              histories.stream().mapToLong(WriteHistory::writesSeen).sum(),
              histories.size(),
              daemon.count("lost writes every master had acknowledged: deleted"),
              daemon.count("loading every mapped table again"),
              unexpectedExits.size(),
              Duration.ofNanos(System.nanoTime() - started).toSeconds());
      System.out.println(summary);
      boolean diverged = last.get() == null || !last.get().divergences().isEmpty();
      if (diverged || !allRegressions().isEmpty() || !unexpectedExits.isEmpty()) {
        java.nio.file.Path kept =
            java.nio.file.Path.of("target", "ClusterFaultScheduleIT-" + seed + "-daemon.log");
        java.nio.file.Files.writeString(kept, daemon.log());
        System.out.println("The daemon's log: " + kept.toAbsolutePath());
        System.out.println("What it decided, last lines:\n" + daemon.decisions(60));
        System.out.println("The cluster:\n" + cluster.describe());
        allRegressions().stream().limit(20).forEach(r -> System.out.println("regression: " + r));
        // What each server was sent for the first divergent keys: who wrote or deleted them last.
        if (last.get() != null) {
          last.get().divergences().stream()
              .limit(3)
              .forEach(divergence -> printTrail(divergence.key()));
        }
        allRegressions().stream().limit(3).forEach(regression -> printTrail(regression.key()));
      }
    }
    // None, while slots move too: those are counted apart in the line, for the post-mortem only.
    assertThat(allRegressions()).as(summary).isEmpty();
    assertThat(histories.stream().mapToLong(WriteHistory::writesSeen).sum())
        .as("the write histories watched the run")
        .isPositive();
    // Every master's writes were judged at the end: none was left unjudged by a failover.
    for (Node master : cluster.masters()) {
      assertThat(histories.stream().filter(h -> h.port() == master.port()).findFirst())
          .as("the write history of master %s", master.address())
          .hasValueSatisfying(history -> assertThat(history.judging()).isTrue());
    }
    assertThat(unexpectedExits).as("the daemon exited by itself; its last lines").isEmpty();
  }

  /** Prints the last commands each watched server ran on {@code key}. */
  private void printTrail(String key) {
    for (WriteHistory history : histories) {
      System.out.println("trail of " + key + ":\n  " + String.join("\n  ", history.trail(key)));
    }
  }

  /** The regressions outside every slot migration: the line counts the others apart. */
  private List<WriteHistory.Regression> regressions() {
    return allRegressions().stream().filter(r -> !duringMigration(r)).toList();
  }

  private List<WriteHistory.Regression> allRegressions() {
    return histories.stream().flatMap(history -> history.regressions().stream()).toList();
  }

  private boolean duringMigration(WriteHistory.Regression regression) {
    double at = Double.parseDouble(regression.at());
    return migrations.stream().anyMatch(window -> at >= window[0] && at <= window[1]);
  }

  /** When each reshard ran, in the monitor's time (seconds since the epoch). */
  private final List<double[]> migrations = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Waits until the daemon started last streams (its log says so once more than before). */
  private void awaitStreaming() {
    int before = starts;
    await("the daemon streaming")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> daemon.count(STREAMING) > before || !daemon.alive());
    starts = Math.max(starts, daemon.count(STREAMING) - 1);
  }

  /**
   * Lets the run go on for a random while: the schedule's timing, not a wait for something to
   * happen.
   */
  private static void hold(Random random, int minMillis, int maxMillis)
      throws InterruptedException {
    TimeUnit.MILLISECONDS.sleep(minMillis + random.nextInt(maxMillis - minMillis));
  }
}
