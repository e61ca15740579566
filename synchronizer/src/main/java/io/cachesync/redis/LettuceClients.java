package io.cachesync.redis;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.RedisTlsSettings;
import io.cachesync.sync.RedisUnavailableException;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslOptions;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Builds Lettuce clients from the settings, with the timeouts and the TLS settings every connection
 * shares: every connection cachesync makes to Redis or Sentinel comes from here.
 */
final class LettuceClients {
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);

  /** How long a WAIT for replicas (redis.waitReplicas) may block before the batch is retried. */
  static final Duration WAIT_REPLICAS = Duration.ofSeconds(2);

  /**
   * Fails, to be retried like an outage, when fewer replicas than {@code redis.waitReplicas}
   * acknowledged {@code what} within {@link #WAIT_REPLICAS}: PostgreSQL is not told the position
   * until they do.
   */
  static void requireReplicas(long acknowledged, int wanted, String what) {
    if (acknowledged < wanted) {
      throw new RedisUnavailableException(
          acknowledged
              + " of the "
              + wanted
              + " replicas (redis.waitReplicas) acknowledged "
              + what
              + " within "
              + WAIT_REPLICAS.toMillis()
              + " ms",
          null);
    }
  }

  private LettuceClients() {}

  /**
   * The URI to connect to. With {@code rediss://} and {@code rediss-sentinel://} Lettuce connects
   * with TLS, to each Sentinel and to the master it names alike; the verify mode is set here, and
   * Lettuce passes it on to each Sentinel's URI.
   */
  static RedisURI uri(RedisSettings settings) {
    RedisURI uri = RedisURI.create(settings.uri());
    uri.setTimeout(COMMAND_TIMEOUT);
    if (settings.usesTls()) {
      uri.setVerifyPeer(verifyMode(settings.tls().verify()));
    }
    return uri;
  }

  static SslVerifyMode verifyMode(RedisTlsSettings.Verify verify) {
    return switch (verify) {
      case FULL -> SslVerifyMode.FULL;
      case CA -> SslVerifyMode.CA;
    };
  }

  /**
   * The authorities to trust (the JDK's unless {@code redis.tls.caFile} names others) and the
   * client certificate, if any. Lettuce reads the files again at each connection, so a renewed
   * certificate is used from the next reconnect on.
   */
  static SslOptions sslOptions(RedisTlsSettings tls) {
    // A handshake gets as long as a connect: a server that does not answer one (a plain-text
    // port) is found out as soon as an unreachable one.
    SslOptions.Builder builder =
        SslOptions.builder().jdkSslProvider().handshakeTimeout(CONNECT_TIMEOUT);
    tls.caFile().ifPresent(file -> builder.trustManager(file.toFile()));
    if (tls.clientCertificate()) {
      builder.keyManager(
          tls.certFile().orElseThrow().toFile(), tls.keyFile().orElseThrow().toFile(), null);
    }
    return builder.build();
  }

  /**
   * A client for long-lived connections: they reconnect after a loss, and commands fail while
   * disconnected instead of queueing without bound. Commands in flight when the connection drops
   * fail rather than being sent again on the new one (Lettuce's default replays them): a replayed
   * tail of a MULTI would run outside its transaction, storing a batch's position without the
   * writes queued before the drop. The caller retries the whole batch instead.
   */
  static RedisClient reconnecting(RedisSettings settings) {
    return reconnecting(settings, null);
  }

  /**
   * As {@link #reconnecting(RedisSettings)}, every connection named {@code clientName} in Redis
   * ({@code CLIENT SETNAME}, again after each reconnect), or unnamed when it is null.
   */
  static RedisClient reconnecting(RedisSettings settings, String clientName) {
    return client(
        settings,
        options()
            .autoReconnect(true)
            .replayFilter(inFlight -> true)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS),
        clientName);
  }

  /**
   * A client whose connections never reconnect by themselves: once dropped, a connection stays
   * closed and every command on it fails, until the owner opens another ({@code CLIENT SETNAME
   * clientName} on each). For the writer's batch connection: a WATCH lives in one Redis connection,
   * and a reconnect between the WATCH and the EXEC would run the EXEC on a connection that watches
   * nothing (see {@link LettuceCacheWriter}).
   */
  static RedisClient nonReconnecting(RedisSettings settings, String clientName) {
    return client(
        settings,
        options()
            .autoReconnect(false)
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS),
        clientName);
  }

  /**
   * Closes, in the Redis {@code redis} is connected to, every connection named {@code clientName}
   * but those whose ids are {@code current}: a writer's earlier connections, which dropped on its
   * side but can still be open on Redis's, holding a batch's bytes that a broken network delivers
   * late (run after the batch was applied again, they would write back keys a later batch deleted,
   * where no version guard can tell). Once Redis closed them, nothing they hold runs.
   *
   * @return how many were closed
   * @throws io.lettuce.core.RedisCommandExecutionException when Redis refuses CLIENT LIST or CLIENT
   *     KILL (an ACL without them)
   */
  static int closeEarlierConnections(
      io.lettuce.core.api.sync.RedisCommands<String, String> redis,
      String clientName,
      long... current) {
    int closed = 0;
    for (String line : redis.clientList().split("\n")) {
      java.util.Map<String, String> fields = new java.util.HashMap<>();
      for (String field : line.trim().split(" ")) {
        int equals = field.indexOf('=');
        if (equals > 0) {
          fields.put(field.substring(0, equals), field.substring(equals + 1));
        }
      }
      if (!clientName.equals(fields.get("name")) || !fields.containsKey("id")) {
        continue;
      }
      long id = Long.parseLong(fields.get("id"));
      if (java.util.Arrays.stream(current).noneMatch(kept -> kept == id)) {
        closed += redis.clientKill(io.lettuce.core.KillArgs.Builder.id(id));
      }
    }
    if (closed > 0) {
      org.slf4j.LoggerFactory.getLogger(LettuceClients.class)
          .info(
              "Closed {} earlier connection(s) of this writer in Redis before applying the batch"
                  + " again, so that nothing they still hold can run after it",
              closed);
    }
    return closed;
  }

  /**
   * A client for a Redis Cluster ({@code redis-cluster://}), from the nodes the URI names: it
   * learns the rest of the cluster from them, and learns it again at once when a reply shows it
   * changed (MOVED, ASK, a node gone, a slot not served) and every 10 s besides. Routed commands
   * follow MOVED and ASK. Connections behave as {@link #reconnecting}'s.
   */
  static RedisClusterClient cluster(RedisSettings settings) {
    List<RedisURI> seeds = new ArrayList<>();
    for (String seed : settings.clusterSeeds()) {
      RedisURI uri = RedisURI.create(seed);
      uri.setTimeout(COMMAND_TIMEOUT);
      if (settings.usesTls()) {
        uri.setVerifyPeer(verifyMode(settings.tls().verify()));
      }
      seeds.add(uri);
    }
    ClusterClientOptions.Builder options =
        ClusterClientOptions.builder()
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder()
                    .enablePeriodicRefresh(TOPOLOGY_REFRESH)
                    .enableAllAdaptiveRefreshTriggers()
                    .adaptiveRefreshTriggersTimeout(MAX_RECONNECT_DELAY)
                    .build());
    options.socketOptions(SocketOptions.builder().connectTimeout(CONNECT_TIMEOUT).build());
    options.timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT));
    options.autoReconnect(true);
    options.replayFilter(inFlight -> true);
    // Not REJECT_COMMANDS as on one master: the cluster client opens its connection to a node when
    // a command is first routed there, and rejects that command while the connection is being made.
    // A command waiting for a connection is bounded by its timeout all the same.
    options.disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS);
    if (settings.usesTls()) {
      options.sslOptions(sslOptions(settings.tls()));
    }
    ClientResources resources = ownResources();
    try {
      RedisClusterClient client = new OwnResourcesClusterClient(resources, seeds);
      client.setOptions(options.build());
      return client;
    } catch (RuntimeException e) {
      resources.shutdown();
      throw e;
    }
  }

  /** How often a cluster client reads the topology again when nothing told it that it changed. */
  static final Duration TOPOLOGY_REFRESH = Duration.ofSeconds(10);

  /** Resources of a client's own, for its reconnect delay (see {@link #MAX_RECONNECT_DELAY}). */
  private static ClientResources ownResources() {
    return ClientResources.builder()
        .reconnectDelay(
            Delay.exponential(Duration.ofMillis(10), MAX_RECONNECT_DELAY, 2, TimeUnit.MILLISECONDS))
        .build();
  }

  /**
   * Redis's proto-max-bulk-len as {@code redis} reads it: the largest value a write may send (a
   * larger one would make Redis drop the connection); Redis's default, 512 MB, when it cannot be
   * read (a user without CONFIG GET).
   */
  static long maxValueBytes(io.lettuce.core.api.sync.RedisCommands<String, String> redis) {
    try {
      String limit = redis.configGet("proto-max-bulk-len").get("proto-max-bulk-len");
      if (limit != null) {
        return Long.parseLong(limit);
      }
    } catch (RedisCommandExecutionException | NumberFormatException e) {
      org.slf4j.LoggerFactory.getLogger(LettuceClients.class)
          .info("Could not read proto-max-bulk-len ({}); assuming 512 MB", e.getMessage());
    }
    return 512L * 1024 * 1024;
  }

  /**
   * A client to one node of a Redis Cluster, as {@link #nonReconnecting} makes for one master: the
   * URI is a seed's, pointed at {@code host:port}, so it carries the same user, password and TLS.
   */
  static RedisClient nonReconnecting(
      RedisSettings settings, String host, int port, String clientName) {
    String seed = settings.clusterSeeds().get(0);
    RedisURI uri = RedisURI.create(seed);
    uri.setHost(host);
    uri.setPort(port);
    RedisClient client =
        client(
            settings,
            uri,
            options()
                .autoReconnect(false)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS),
            clientName);
    return client;
  }

  /** A cluster client with resources of its own, shut down with it (see {@link #client}). */
  private static final class OwnResourcesClusterClient extends RedisClusterClient {
    OwnResourcesClusterClient(ClientResources resources, List<RedisURI> seeds) {
      super(resources, seeds);
    }

    @Override
    public CompletableFuture<Void> shutdownAsync(long quietPeriod, long timeout, TimeUnit unit) {
      return super.shutdownAsync(quietPeriod, timeout, unit)
          .whenComplete((done, error) -> getResources().shutdown(quietPeriod, timeout, unit));
    }
  }

  /** A client that fails fast instead of reconnecting: for one-shot work such as the preflight. */
  static RedisClient oneShot(RedisSettings settings) {
    return client(settings, options().autoReconnect(false), null);
  }

  /** The timeouts every connection shares. */
  private static ClientOptions.Builder options() {
    return ClientOptions.builder()
        .socketOptions(SocketOptions.builder().connectTimeout(CONNECT_TIMEOUT).build())
        .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT));
  }

  /**
   * Lettuce waits up to 30 s between reconnect attempts by default: after a Redis restart or a
   * failover the cache would stay behind for that long. A second at most.
   */
  static final Duration MAX_RECONNECT_DELAY = Duration.ofSeconds(1);

  private static RedisClient client(
      RedisSettings settings, ClientOptions.Builder options, String clientName) {
    return client(settings, uri(settings), options, clientName);
  }

  private static RedisClient client(
      RedisSettings settings, RedisURI uri, ClientOptions.Builder options, String clientName) {
    if (settings.usesTls()) {
      uri.setVerifyPeer(verifyMode(settings.tls().verify()));
    }
    if (settings.usesTls()) {
      options.sslOptions(sslOptions(settings.tls()));
    }
    if (clientName != null) {
      uri.setClientName(clientName);
    }
    ClientResources resources = ownResources();
    try {
      RedisClient client = new OwnResourcesClient(resources, uri);
      client.setOptions(options.build());
      return client;
    } catch (RuntimeException e) {
      resources.shutdown();
      throw e;
    }
  }

  /**
   * A client with resources of its own (for the reconnect delay), shut down with it: Lettuce shuts
   * down only the resources it created itself.
   */
  private static final class OwnResourcesClient extends RedisClient {
    OwnResourcesClient(ClientResources resources, RedisURI uri) {
      super(resources, uri);
    }

    /**
     * Lettuce's connect, returning only once the connection takes commands (see {@link #ready}).
     */
    @Override
    public <K, V> StatefulRedisConnection<K, V> connect(RedisCodec<K, V> codec) {
      StatefulRedisConnection<K, V> connection = super.connect(codec);
      try {
        ready(connection);
        return connection;
      } catch (RuntimeException e) {
        connection.close();
        throw e;
      }
    }

    @Override
    public CompletableFuture<Void> shutdownAsync(long quietPeriod, long timeout, TimeUnit unit) {
      return super.shutdownAsync(quietPeriod, timeout, unit)
          .whenComplete((done, error) -> getResources().shutdown(quietPeriod, timeout, unit));
    }
  }

  /**
   * Waits until a connection just made takes commands. Lettuce 7.7 now and then returns from
   * connect, after a handshake that authenticated (HELLO with AUTH), with a connection that reports
   * itself open but rejects its first command as "Currently not connected" without sending it (6 of
   * 2,500 connects on a busy 2-core machine): {@code validate} failed on it, and so could any
   * command-line job. DBSIZE is sent until it is not rejected so: it is cheap, and every user
   * {@code cachesync grants} sets up may run it, so that it leaves nothing in Redis's ACL LOG; a
   * refusal (a user without it, whom {@code validate} tells) shows the connection works too.
   * Lettuce offers no way to wait for this. The poll ends by itself: at the connect timeout (plus
   * one command's timeout for a DBSIZE sent that Redis does not answer), when the connection is
   * closed, or when the thread is interrupted.
   *
   * @throws RedisException as the first command on the connection would have: it does not take
   *     commands
   */
  static void ready(StatefulRedisConnection<?, ?> connection) {
    long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
    while (true) {
      try {
        connection.sync().dbsize();
        return;
      } catch (RedisCommandExecutionException refused) {
        return;
      } catch (RedisException e) {
        if (!String.valueOf(e.getMessage()).startsWith("Currently not connected")
            || !connection.isOpen()
            || System.nanoTime() > deadline
            || Thread.currentThread().isInterrupted()) {
          throw e;
        }
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
    }
  }

  /**
   * The reply to {@code future}, waited for at most {@link #COMMAND_TIMEOUT}.
   *
   * @throws RedisUnavailableException when Redis answered with an error or did not answer in time
   */
  static <T> T await(Future<T> future) {
    try {
      return future.get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisUnavailableException("interrupted while waiting for Redis", e);
    } catch (ExecutionException e) {
      throw unavailable(e.getCause());
    } catch (TimeoutException e) {
      throw new RedisUnavailableException(
          "Redis did not answer within " + COMMAND_TIMEOUT.toMillis() + " ms", e);
    }
  }

  /**
   * What a failed connect means, to be thrown by the caller: that Redis cannot be reached (retry
   * later), or that TLS failed on a certificate ({@link ServerUnreachableException#tlsFailed()},
   * exit 3 as for PostgreSQL: a renewed certificate on either side mends it), unless it answered
   * and refused what the configuration cannot get past (a login, a plain-text server behind
   * rediss:// or the reverse), which is thrown from here.
   *
   * @throws RedisRefusedException naming the server, the cause and the setting to check
   */
  static ServerUnreachableException connectFailed(RedisSettings settings, RuntimeException e) {
    ConnectionFailure failure = ConnectionFailure.of(settings, e);
    if (failure.certificate()) {
      ServerUnreachableException tls =
          ServerUnreachableException.tlsRefused("Redis", failure.message());
      tls.addSuppressed(e);
      return tls;
    }
    if (failure.refused()) {
      RedisRefusedException refused = new RedisRefusedException(failure.message());
      refused.addSuppressed(e);
      throw refused;
    }
    return new ServerUnreachableException("Redis", failure.address(), failure.message());
  }

  /** A failure to write, to be retried: {@code cause} says why. */
  static RedisUnavailableException unavailable(Throwable cause) {
    String why = ConnectionFailure.tlsCause(cause).orElseGet(() -> rootCause(cause).getMessage());
    return new RedisUnavailableException("Redis cannot take writes: " + why, cause);
  }

  /** The innermost cause: what a Lettuce exception wraps is what the message should say. */
  static Throwable rootCause(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    return cause;
  }
}
