package io.cachesync.testing;

import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A Redis master, one replica of it and a Sentinel watching them, all from the installed {@code
 * redis-server}, so that a test can fail the master over: on request ({@link #failover()}), or by
 * killing it ({@link #killMaster()}). Sentinel is told the master is down after one second without
 * an answer; with one Sentinel a quorum of one decides. When the master speaks TLS ({@link
 * RedisServer#tls()}), so do the replica and Sentinel, only TLS and with the same certificates, and
 * replication and Sentinel's links use TLS too.
 */
public final class RedisSentinelGroup implements AutoCloseable {
  public static final String MASTER_NAME = "cachesync";

  private final String masterName;
  private final LocalRedis first;
  private final TcpProxy replication;
  private final LocalRedis second;
  private final Sentinel sentinel;
  private final Optional<RedisTls> tls;
  private final RedisClient sentinelClient;
  private final StatefulRedisSentinelConnection<String, String> sentinelConnection;

  /** Starts a replica of {@code master} (a local server) and a Sentinel watching both. */
  public RedisSentinelGroup(RedisServer master) {
    this(master, MASTER_NAME);
  }

  /**
   * Starts a replica of {@code master} (a local server) and a Sentinel watching both, which knows
   * the master as {@code masterName}.
   */
  public RedisSentinelGroup(RedisServer master, String masterName) {
    this.masterName = masterName;
    if (!(master instanceof LocalRedis local)) {
      throw new IllegalStateException("a Sentinel group needs the local redis-server binary");
    }
    this.first = local;
    this.tls = master.tls();
    // The replica reads the master through a proxy, so that a test can cut replication: a
    // stopped (SIGSTOP) replica would still find the master's writes in its socket buffer.
    this.replication = new TcpProxy(master.host(), master.port());
    String[] replicaOf = {"--replicaof", replication.host(), Integer.toString(replication.port())};
    this.second =
        (LocalRedis)
            (tls.isPresent()
                ? TestServers.redisTls(tls.get(), replicaOf)
                : TestServers.redis(replicaOf));
    this.sentinel = Sentinel.start(master, masterName, tls);
    this.sentinelClient =
        RedisClient.create(
            RedisURI.Builder.redis(sentinel.host(), sentinel.port)
                .withSsl(tls.isPresent())
                .build());
    tls.ifPresent(
        t ->
            sentinelClient.setOptions(
                io.lettuce.core.ClientOptions.builder().sslOptions(t.sslOptions()).build()));
    this.sentinelConnection = sentinelClient.connectSentinel();
    awaitReplicaSeen();
    // Sentinel may list the replica before its first full sync is done (Redis waits a few seconds
    // to start a diskless one): a failover then would promote an empty server.
    await("the replica's first sync")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              String info = info(second);
              return info.contains("master_link_status:up")
                  && info.contains("master_sync_in_progress:0");
            });
    awaitReplicaInSync();
  }

  private static String info(RedisServer server) {
    try (RedisProbe probe = new RedisProbe(server)) {
      return probe.redis().info("replication");
    }
  }

  /**
   * The URI the synchronizer is configured with: {@code rediss-sentinel://} when the group speaks
   * TLS.
   */
  public String uri() {
    return (tls.isPresent() ? "rediss-sentinel://" : "redis-sentinel://")
        + sentinel.host()
        + ":"
        + sentinel.port
        + "#"
        + masterName;
  }

  /** The port Sentinel listens on (on 127.0.0.1). */
  public int sentinelPort() {
    return sentinel.port;
  }

  /** The server Sentinel names as master now. */
  public RedisServer master() {
    SocketAddress address = sentinelConnection.sync().getMasterAddrByName(masterName);
    int port = ((InetSocketAddress) address).getPort();
    return port == first.port() ? first : second;
  }

  /** The server Sentinel does not name as master. */
  public RedisServer replica() {
    return master() == first ? second : first;
  }

  /**
   * Waits until the replica has every write the master acknowledged so far (their replication
   * offsets are equal).
   */
  public void awaitReplicaInSync() {
    RedisServer master = master();
    RedisServer replica = replica();
    try {
      await("the replica to catch up")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> offset(master, "master_repl_offset") == offset(replica, "slave_repl_offset"));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + describe(), e);
    }
  }

  private static long offset(RedisServer server, String field) {
    return info(server)
        .lines()
        .filter(line -> line.startsWith(field + ":"))
        .mapToLong(line -> Long.parseLong(line.substring(field.length() + 1).strip()))
        .findFirst()
        .orElse(-1);
  }

  /** Cuts the first replica off its master: the master's writes from now on do not reach it. */
  public void cutReplication() {
    replication.cut();
  }

  /**
   * Asks Sentinel to fail over now, and waits until the replica was promoted. Sentinel refuses
   * (NOGOODSLAVE, INPROG) or gives up a failover (no good replica) while it reconfigures a replica,
   * as it does after an earlier failover: the request is repeated until the replica is master.
   */
  public void failover() {
    RedisServer promoted = replica();
    try {
      await("Sentinel to promote " + promoted)
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofSeconds(1))
          .ignoreExceptions()
          .until(
              () -> {
                if (master() == promoted && role(promoted).equals("master")) {
                  return true;
                }
                sentinelConnection.sync().failover(masterName);
                return false;
              });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + describe(), e);
    }
  }

  /**
   * Kills the master (SIGKILL); Sentinel promotes the replica once it finds the master down (see
   * {@link #awaitPromoted}). Returns the killed server.
   */
  public RedisServer killMaster() {
    RedisServer before = master();
    ((LocalRedis) before).kill();
    return before;
  }

  /** Waits until Sentinel names {@code server} master and it acts as one. */
  public void awaitPromoted(RedisServer server) {
    try {
      await("Sentinel to promote " + server)
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(100))
          .ignoreExceptions()
          .until(() -> master() == server && role(server).equals("master"));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(e.getMessage() + "\n" + describe(), e);
    }
  }

  private static String role(RedisServer server) {
    try (RedisProbe probe = new RedisProbe(server)) {
      return probe.redis().role().get(0).toString();
    }
  }

  /** Sentinel learns of replicas from the master's INFO, every ten seconds at first. */
  private void awaitReplicaSeen() {
    await("Sentinel to see the replica")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              List<Map<String, String>> replicas = sentinelConnection.sync().replicas(masterName);
              return replicas.stream()
                  .anyMatch(
                      r ->
                          r.get("port").equals(Integer.toString(second.port()))
                              && r.get("flags").equals("slave")
                              && "ok".equals(r.get("master-link-status")));
            });
  }

  /** What Sentinel logged, and each server's view of replication: for failure messages. */
  public String describe() {
    StringBuilder text = new StringBuilder();
    try {
      text.append("Sentinel's log:\n")
          .append(Files.readString(sentinel.directory.resolve("sentinel.log")));
    } catch (IOException e) {
      text.append("no Sentinel log: ").append(e).append('\n');
    }
    for (LocalRedis server : List.of(first, second)) {
      text.append(server).append(": ");
      try {
        text.append(info(server).replace("\r\n", " "));
      } catch (RuntimeException e) {
        text.append(e.getMessage());
      }
      text.append('\n');
    }
    return text.toString();
  }

  @Override
  public void close() {
    sentinelConnection.close();
    sentinelClient.shutdown();
    sentinel.close();
    second.close();
    replication.close();
    // The first server belongs to whoever passed it in.
  }

  /** A {@code redis-server --sentinel} process with its (rewritable) configuration file. */
  private static final class Sentinel implements AutoCloseable {
    private final Path directory;
    private int port;
    private Process process;

    private Sentinel(Path directory) {
      this.directory = directory;
    }

    static Sentinel start(RedisServer master, String masterName, Optional<RedisTls> tls) {
      try {
        Sentinel sentinel = new Sentinel(Files.createTempDirectory("cachesync-sentinel-"));
        Cleanup.register(sentinel);
        LocalPostgres.startOnFreePort(free -> sentinel.start(free, master, masterName, tls));
        return sentinel;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    String host() {
      return "127.0.0.1";
    }

    private void start(int free, RedisServer master, String masterName, Optional<RedisTls> tls)
        throws IOException {
      port = free;
      Path config = directory.resolve("sentinel.conf");
      List<String> listen =
          tls.map(t -> t.sentinelDirectives(port)).orElse(List.of("port " + port));
      Files.writeString(
          config,
          String.join(
              "\n",
              String.join("\n", listen),
              "bind 127.0.0.1",
              "daemonize no",
              "dir " + directory,
              "logfile " + directory.resolve("sentinel.log"),
              "sentinel monitor " + masterName + " " + master.host() + " " + master.port() + " 1",
              "sentinel down-after-milliseconds " + masterName + " 1000",
              // Sentinel "fixes" a replica that replicates from an address other than the
              // master's (ours goes through a proxy, to be cut) once this much time has passed
              // since it found it; a failover coinciding with that finds no good replica.
              "sentinel failover-timeout " + masterName + " 120000",
              ""),
          StandardCharsets.UTF_8);
      process =
          new ProcessBuilder("redis-server", config.toString(), "--sentinel")
              .redirectErrorStream(true)
              .redirectOutput(directory.resolve("stdout.log").toFile())
              .start();
      try {
        await("Sentinel on port " + port)
            .atMost(Duration.ofSeconds(15))
            .pollInterval(Duration.ofMillis(20))
            .ignoreExceptions()
            .failFast("redis-server --sentinel exited", () -> !process.isAlive())
            .until(
                () ->
                    tls.isPresent()
                        ? Resp.command(tls.get().socketFactory(), host(), port, "PING")
                        : Resp.command(host(), port, "PING"),
                reply -> reply.startsWith("+PONG"));
      } catch (org.awaitility.core.ConditionTimeoutException
          | org.awaitility.core.TerminalFailureException e) {
        process.destroyForcibly();
        throw new IllegalStateException("Sentinel did not start on port " + port, e);
      }
    }

    @Override
    public void close() {
      if (process != null) {
        process.destroyForcibly();
        try {
          process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      Cleanup.delete(directory);
      Cleanup.unregister(this);
    }
  }
}
