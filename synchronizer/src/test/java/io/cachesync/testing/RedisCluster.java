package io.cachesync.testing;

import static org.awaitility.Awaitility.await;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * A Redis Cluster of local {@code redis-server} processes without persistence: {@code masters}
 * masters with {@code replicasEach} replicas each, formed with {@code redis-cli --cluster create}.
 * A test can fail a master over on request ({@link #failover}), kill one ({@link #killMaster}) and
 * bring it back as a replica ({@link #rejoin}), restart one empty ({@link #restartMasterEmpty}) and
 * move slots with their keys ({@link #reshard}). Each of these, and the start, returns only once
 * the cluster is {@linkplain #awaitStable() stable} again, and fails with {@link #describe()} when
 * it does not get there in time.
 *
 * <p>Ports: a node listens on a port P and on its cluster bus port P + 10000. Both are taken below
 * the system's ephemeral range ({@code /proc/sys/net/ipv4/ip_local_port_range}; command ports in
 * 12768–22767 and bus ports in 22768–32767 with the usual 32768), where neither outgoing
 * connections nor the other fixtures' free ports ({@link LocalPostgres#freePort()}) land. A port
 * pair found free can still be taken by another test JVM's cluster before the node binds it: the
 * node then does not start, and another pair is tried.
 *
 * <p>The topology methods read {@code CLUSTER NODES}, as a live node reports it now.
 *
 * <p>A cluster started with {@link RedisTls} speaks only TLS, to clients and between its nodes
 * ({@code --tls-cluster yes}, {@code --tls-replication yes}): its {@link #uri()} is {@code
 * rediss-cluster://}, and the fixture's own connections and {@code redis-cli} trust the authority
 * and present its client certificate.
 */
public final class RedisCluster implements AutoCloseable {
  /** How long a node may not answer before the others count it failing. */
  static final int NODE_TIMEOUT_MILLIS = 1_000;

  private static final String HOST = "127.0.0.1";
  private static final int SLOTS = 16_384;
  private static final int BUS_OFFSET = 10_000;
  private static final Duration FORM_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final Duration POLL = Duration.ofMillis(100);

  /**
   * What every node runs with, besides {@link LocalRedis}'s own {@code --save ''} and {@code
   * --appendonly no}.
   */
  private static final List<String> NODE_ARGUMENTS =
      List.of(
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          Integer.toString(NODE_TIMEOUT_MILLIS),
          // The topology stays what the test made it: no replica moves to another master, and a
          // master that a reshard empties stays a master, with its replicas.
          "--cluster-allow-replica-migration",
          "no",
          // A replica may be promoted however long it was cut off (by default, not after ten node
          // timeouts plus a ping period).
          "--cluster-replica-validity-factor",
          "0",
          // Full syncs start at once (Redis 7.0 waits 5 s for more replicas to share a diskless
          // one).
          "--repl-diskless-sync-delay",
          "0",
          // A replica writes each full sync to dump.rdb even with --save '', and a restart would
          // load it: a node that was ever a replica would not restart empty.
          "--rdb-del-sync-files",
          "yes");

  private final Path executable;
  private final Path cli;
  private final int masterCount;
  private final int replicasEach;
  private final RedisTls tls;
  private final SSLSocketFactory tlsSockets;
  private final List<LocalRedis> nodes = new ArrayList<>();
  private final Map<Integer, List<PortHold>> killed = new LinkedHashMap<>();
  private String lastCli = "";

  private RedisCluster(Path executable, Path cli, int masterCount, int replicasEach, RedisTls tls) {
    this.executable = executable;
    this.cli = cli;
    this.masterCount = masterCount;
    this.replicasEach = replicasEach;
    this.tls = tls;
    this.tlsSockets = tls == null ? null : tls.socketFactory();
  }

  /**
   * Starts and forms a cluster from {@code executable} ({@code redis-server}) and the {@code
   * redis-cli} beside it (or on the PATH). {@code redis-cli} refuses fewer than 3 masters.
   */
  static RedisCluster start(Path executable, int masters, int replicasEach) {
    return start(executable, masters, replicasEach, null);
  }

  /** As {@link #start(Path, int, int)}, speaking only TLS as {@code tls} says, when not null. */
  static RedisCluster start(Path executable, int masters, int replicasEach, RedisTls tls) {
    if (masters < 3) {
      throw new IllegalArgumentException(
          "a Redis Cluster needs at least 3 masters (redis-cli --cluster create refuses fewer): "
              + masters);
    }
    if (replicasEach < 0) {
      throw new IllegalArgumentException("replicas per master: " + replicasEach);
    }
    RedisCluster cluster =
        new RedisCluster(executable, findCli(executable), masters, replicasEach, tls);
    Cleanup.register(cluster);
    try {
      cluster.form();
      return cluster;
    } catch (RuntimeException | Error e) {
      cluster.close();
      throw e;
    }
  }

  private void form() {
    for (int i = 0; i < masterCount * (1 + replicasEach); i++) {
      nodes.add(startNode());
    }
    List<String> command = cli("--cluster", "create");
    for (LocalRedis node : nodes) {
      command.add(HOST + ":" + node.port());
    }
    command.addAll(List.of("--cluster-replicas", Integer.toString(replicasEach), "--cluster-yes"));
    runCli(command);
    // redis-cli returns once the nodes met; they learn each other's roles by gossip after that,
    // and the replicas' first sync is yet to happen.
    awaitStable(
        "the cluster to form",
        FORM_TIMEOUT,
        view ->
            view.stream().filter(n -> n.master() && n.slotCount() > 0).count() == masterCount
                && view.stream().filter(n -> n.masterId().isPresent()).count()
                    == (long) masterCount * replicasEach);
  }

  private LocalRedis startNode() {
    IllegalStateException last = null;
    for (int attempt = 0; attempt < 5; attempt++) {
      int port = freePortPair();
      try {
        return LocalRedis.createOn(executable, nodeArguments(), port, tls);
      } catch (IllegalStateException e) {
        // Most likely another JVM took the port or its bus port since it was found free.
        last = e;
      }
    }
    throw last;
  }

  private List<String> nodeArguments() {
    if (tls == null) {
      return NODE_ARGUMENTS;
    }
    List<String> arguments = new ArrayList<>(NODE_ARGUMENTS);
    arguments.addAll(List.of("--tls-cluster", "yes"));
    return arguments;
  }

  /** {@code redis-cli} with {@code arguments}, over TLS when the cluster speaks it. */
  private List<String> cli(String... arguments) {
    List<String> command = new ArrayList<>(List.of(cli.toString()));
    if (tls != null) {
      command.addAll(
          List.of(
              "--tls",
              "--cacert",
              tls.caFile().toString(),
              "--cert",
              tls.client().certificate().toString(),
              "--key",
              tls.client().key().toString()));
    }
    command.addAll(List.of(arguments));
    return command;
  }

  /**
   * A port P below the ephemeral range such that both P and P + 10000 can be bound now, chosen at
   * random so that two JVMs rarely try the same one.
   */
  static int freePortPair() {
    int top = Math.min(ephemeralLow(), 65_536);
    int first = Math.max(1_024, top - 2 * BUS_OFFSET);
    int end = top - BUS_OFFSET;
    if (end - first < 100) {
      throw new IllegalStateException(
          "no room for Redis Cluster ports below the ephemeral range, which starts at " + top);
    }
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = ThreadLocalRandom.current().nextInt(first, end);
      if (bindable(port) && bindable(port + BUS_OFFSET)) {
        return port;
      }
    }
    throw new IllegalStateException(
        "no free port pair (P, P + 10000) for P in " + first + "-" + end);
  }

  private static int ephemeralLow() {
    try {
      // Not Files.readString: on JDK 17 it reads a /proc file (size 0) as its first byte only.
      String range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0);
      return Integer.parseInt(range.strip().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32_768;
    }
  }

  private static boolean bindable(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      // As redis-server binds: a connection of an earlier process in TIME_WAIT does not count.
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(HOST, port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static Path findCli(Path executable) {
    Path beside = executable.resolveSibling("redis-cli");
    if (Files.isExecutable(beside)) {
      return beside;
    }
    String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
    for (String directory : path.split(":")) {
      Path candidate = Path.of(directory, "redis-cli");
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "no redis-cli beside " + executable + " or on the PATH: it forms the Redis Cluster");
  }

  /** A range of hash slots, both ends included. */
  public record SlotRange(int first, int last) {
    static SlotRange parse(String text) {
      int dash = text.indexOf('-');
      return dash < 0
          ? new SlotRange(Integer.parseInt(text), Integer.parseInt(text))
          : new SlotRange(
              Integer.parseInt(text.substring(0, dash)),
              Integer.parseInt(text.substring(dash + 1)));
    }

    public int size() {
      return last - first + 1;
    }

    public boolean contains(int slot) {
      return slot >= first && slot <= last;
    }

    @Override
    public String toString() {
      return first == last ? Integer.toString(first) : first + "-" + last;
    }
  }

  /**
   * A node as a line of {@code CLUSTER NODES} describes it: its id, port, flags ({@code master},
   * {@code slave}, {@code fail}, {@code fail?}, {@code myself}, ...), the id of its master when it
   * is a replica, the slots it serves, slots it is migrating or importing ({@code [slot->-id]},
   * {@code [slot-<-id]}, only on the reporting node's own line) and its link state.
   */
  public record Node(
      String id,
      int port,
      Set<String> flags,
      Optional<String> masterId,
      List<SlotRange> slots,
      List<String> openSlots,
      String link) {

    static Node parse(String line) {
      String[] fields = line.strip().split(" ");
      String address = fields[1];
      int comma = address.indexOf(',');
      if (comma >= 0) {
        address = address.substring(0, comma);
      }
      int at = address.indexOf('@');
      String hostPort = at < 0 ? address : address.substring(0, at);
      int port = Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
      List<SlotRange> slots = new ArrayList<>();
      List<String> open = new ArrayList<>();
      for (int i = 8; i < fields.length; i++) {
        if (fields[i].startsWith("[")) {
          open.add(fields[i]);
        } else {
          slots.add(SlotRange.parse(fields[i]));
        }
      }
      return new Node(
          fields[0],
          port,
          Set.copyOf(List.of(fields[2].split(","))),
          fields[3].equals("-") ? Optional.empty() : Optional.of(fields[3]),
          List.copyOf(slots),
          List.copyOf(open),
          fields[7]);
    }

    public boolean master() {
      return flags.contains("master");
    }

    /** Whether the cluster agreed the node failed ({@code fail}; {@code fail?} is one's doubt). */
    public boolean failed() {
      return flags.contains("fail");
    }

    public int slotCount() {
      return slots.stream().mapToInt(SlotRange::size).sum();
    }

    public boolean owns(int slot) {
      return slots.stream().anyMatch(range -> range.contains(slot));
    }

    /** {@code 127.0.0.1:port}. */
    public String address() {
      return HOST + ":" + port;
    }

    /** The line without what differs between reporters: {@code myself}, ping times, epochs. */
    private String agreed() {
      Set<String> shared = new TreeSet<>(flags);
      shared.remove("myself");
      return id
          + " "
          + port
          + " "
          + String.join(",", shared)
          + " "
          + masterId.orElse("-")
          + " "
          + link
          + " "
          + slots.stream().map(SlotRange::toString).collect(Collectors.joining(" "));
    }
  }

  /**
   * The seed URI of the current masters: {@code redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...}, or
   * {@code rediss-cluster://...} when the cluster speaks TLS.
   */
  public String uri() {
    return (tls == null ? "redis-cluster://" : "rediss-cluster://") + String.join(",", seeds());
  }

  /** {@code 127.0.0.1:port} of each current master, as {@link #uri()} lists them. */
  public List<String> seeds() {
    return masters().stream().map(Node::address).toList();
  }

  /**
   * Every server of the cluster, masters and replicas, killed ones included: for watchers that
   * follow a server across restarts (a {@link WriteHistory} on each).
   */
  public List<RedisServer> servers() {
    return List.copyOf(nodes);
  }

  /** Every node the cluster knows, failed ones included, as a live node reports them now. */
  public List<Node> nodes() {
    IllegalStateException last = null;
    for (LocalRedis node : live()) {
      try {
        return parseNodes(text(node.port(), "CLUSTER", "NODES"));
      } catch (RuntimeException e) {
        last = new IllegalStateException("CLUSTER NODES on " + node.port() + " failed", e);
      }
    }
    throw last == null ? new IllegalStateException("no node of the cluster runs") : last;
  }

  /** The masters that did not fail, in port order. */
  public List<Node> masters() {
    return nodes().stream().filter(n -> n.master() && !n.failed()).toList();
  }

  /** The replicas that did not fail, in port order. */
  public List<Node> replicas() {
    return nodes().stream().filter(n -> !n.master() && !n.failed()).toList();
  }

  /** The node on {@code port}, as the cluster knows it now. */
  public Node node(int port) {
    return find(nodes(), port);
  }

  private static Node find(List<Node> view, int port) {
    return view.stream()
        .filter(n -> n.port() == port)
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no node of the cluster on port " + port));
  }

  private static Optional<Node> byId(List<Node> view, String id) {
    return view.stream().filter(n -> n.id().equals(id)).findFirst();
  }

  /** Sends one command to the node on {@code port}; returns the reply's first line. */
  public String command(int port, String... arguments) {
    return tls == null
        ? Resp.command(HOST, port, arguments)
        : Resp.command(tlsSockets, HOST, port, arguments);
  }

  /**
   * Promotes a replica of the master on {@code masterPort} with a graceful {@code CLUSTER FAILOVER}
   * (the master stops taking writes until the replica has them all, so nothing is lost), and waits
   * until every node agrees the replica is master of those slots and the old master its replica.
   * Returns the promoted node.
   */
  public Node failover(int masterPort) {
    Node master = liveMaster(masterPort);
    Node replica =
        replicasOf(nodes(), master).stream()
            .findFirst()
            .orElseThrow(
                () -> new IllegalStateException("the master on " + masterPort + " has no replica"));
    AtomicReference<Instant> asked = new AtomicReference<>(Instant.MIN);
    awaitStable(
        "the replica on " + replica.port() + " to take over from " + masterPort,
        TIMEOUT,
        view -> {
          Node now = find(view, replica.port());
          if (now.master()) {
            return now.slots().equals(master.slots())
                && find(view, masterPort).masterId().equals(Optional.of(replica.id()));
          }
          // A manual failover the master did not answer within 5 s is abandoned: ask again.
          if (asked.get().isBefore(Instant.now().minusSeconds(6))) {
            asked.set(Instant.now());
            String reply = command(replica.port(), "CLUSTER", "FAILOVER");
            if (!reply.startsWith("+OK")) {
              throw new IllegalStateException(
                  "CLUSTER FAILOVER on " + replica.port() + ": " + reply);
            }
          }
          return false;
        });
    return node(replica.port());
  }

  /**
   * Kills the master on {@code masterPort} ({@code kill -9}) and waits until the cluster agrees it
   * failed and promoted one of its replicas, which serves its slots; returns that replica. Until
   * {@link #rejoin} or {@link #close}, the killed node's port and bus port stay held, so that no
   * other test's server takes them meanwhile: a listener resets each connection as soon as it is
   * accepted, so clients and nodes find nothing there (they connect, then lose the connection at
   * once, rather than being refused).
   */
  public Node killMaster(int masterPort) {
    Node master = liveMaster(masterPort);
    List<Node> replicas = replicasOf(nodes(), master);
    if (replicas.isEmpty()) {
      throw new IllegalStateException(
          "the master on " + masterPort + " has no replica to take over its slots");
    }
    LocalRedis server = server(masterPort);
    server.kill();
    killed.put(masterPort, List.of(PortHold.on(masterPort), PortHold.on(masterPort + BUS_OFFSET)));
    Set<String> candidates = replicas.stream().map(Node::id).collect(Collectors.toSet());
    awaitStable(
        "a replica to take over from the killed master on " + masterPort,
        TIMEOUT,
        view ->
            view.stream()
                .anyMatch(
                    n ->
                        candidates.contains(n.id())
                            && n.master()
                            && n.slots().equals(master.slots())));
    return masters().stream().filter(n -> candidates.contains(n.id())).findFirst().orElseThrow();
  }

  /**
   * Starts a node {@link #killMaster} killed again on its port, with its {@code nodes.conf} (so its
   * node id) and no data. Its slots have another master now, whose newer configuration epoch makes
   * it a replica of that master; waits until it is one and in sync. Returns it.
   */
  public Node rejoin(int port) {
    List<PortHold> holds = killed.remove(port);
    if (holds == null) {
      throw new IllegalArgumentException("no node was killed on port " + port);
    }
    holds.forEach(PortHold::close);
    LocalRedis server = server(port);
    startEmpty(server);
    awaitStable(
        "the node on " + port + " to rejoin as a replica",
        TIMEOUT,
        view -> find(view, port).masterId().isPresent());
    return node(port);
  }

  /**
   * Restarts the master on {@code masterPort} without data but with its {@code nodes.conf}: it
   * keeps its node id and its slots, and its replicas, which it then syncs empty too. It is the
   * case of a master without persistence that restarts before its replicas take over; so that they
   * do not, each replica gets {@code cluster-replica-no-failover yes} for the time of the restart.
   * Waits until the cluster is stable with the node still master of its slots.
   */
  public void restartMasterEmpty(int masterPort) {
    Node master = liveMaster(masterPort);
    List<Node> replicas = replicasOf(nodes(), master);
    for (Node replica : replicas) {
      expectOk(replica.port(), "CONFIG", "SET", "cluster-replica-no-failover", "yes");
    }
    try {
      LocalRedis server = server(masterPort);
      server.kill();
      startEmpty(server);
      awaitStable(
          "the master on " + masterPort + " to restart with its slots",
          TIMEOUT,
          view -> {
            Node now = find(view, masterPort);
            return now.id().equals(master.id())
                && now.master()
                && now.slots().equals(master.slots());
          });
    } finally {
      for (Node replica : replicas) {
        expectOk(replica.port(), "CONFIG", "SET", "cluster-replica-no-failover", "no");
      }
    }
    // The flag goes round by gossip: wait until no node shows it any more.
    awaitStable(
        "the replicas of " + masterPort + " to allow failovers again",
        TIMEOUT,
        view -> view.stream().noneMatch(n -> n.flags().contains("nofailover")));
  }

  /**
   * Moves {@code slots} slots, with their keys, from the master on {@code fromPort} to the master
   * on {@code toPort} with {@code redis-cli --cluster reshard} (which takes the source's lowest
   * slots), and waits until every node agrees on the new owners. The source keeps at least one
   * slot.
   */
  public void reshard(int fromPort, int toPort, int slots) {
    Node from = liveMaster(fromPort);
    Node to = liveMaster(toPort);
    if (slots < 1 || slots >= from.slotCount()) {
      throw new IllegalArgumentException(
          "the master on "
              + fromPort
              + " has "
              + from.slotCount()
              + " slots: cannot move "
              + slots);
    }
    runCli(
        cli(
            "--cluster",
            "reshard",
            to.address(),
            "--cluster-from",
            from.id(),
            "--cluster-to",
            to.id(),
            "--cluster-slots",
            Integer.toString(slots),
            "--cluster-yes"));
    awaitStable(
        slots + " slots to move from " + fromPort + " to " + toPort,
        TIMEOUT,
        view ->
            find(view, fromPort).slotCount() == from.slotCount() - slots
                && find(view, toPort).slotCount() == to.slotCount() + slots);
  }

  /**
   * Gives {@code slot}, which must hold no key, to the master on {@code toPort} with {@code CLUSTER
   * SETSLOT} (IMPORTING, MIGRATING, then NODE on every master), and waits until every node agrees.
   * Unlike {@link #reshard}, it can move any slot, not only the source's lowest.
   */
  public void moveEmptySlot(int slot, int toPort) {
    Node to = liveMaster(toPort);
    Node from =
        masters().stream()
            .filter(master -> master.owns(slot))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("no master serves slot " + slot));
    // The reply as Redis sends it: an integer, ":0".
    String count =
        command(from.port(), "CLUSTER", "COUNTKEYSINSLOT", Integer.toString(slot)).strip();
    if (!count.equals(":0")) {
      throw new IllegalArgumentException("slot " + slot + " holds keys: " + count);
    }
    expectOk(to.port(), "CLUSTER", "SETSLOT", Integer.toString(slot), "IMPORTING", from.id());
    expectOk(from.port(), "CLUSTER", "SETSLOT", Integer.toString(slot), "MIGRATING", to.id());
    for (Node master : masters()) {
      expectOk(master.port(), "CLUSTER", "SETSLOT", Integer.toString(slot), "NODE", to.id());
    }
    awaitStable(
        "slot " + slot + " to move from " + from.port() + " to " + toPort,
        TIMEOUT,
        view -> find(view, toPort).owns(slot) && !find(view, from.port()).owns(slot));
  }

  /**
   * Waits until the cluster is stable: see {@link #problems}. In particular every replica holds
   * every write its master had acknowledged when this was called.
   */
  public void awaitStable() {
    awaitStable("the cluster to be stable", TIMEOUT, view -> true);
  }

  private void awaitStable(String what, Duration timeout, Predicate<List<Node>> goal) {
    AtomicReference<List<String>> last = new AtomicReference<>(List.of("not checked yet"));
    try {
      await(what)
          .atMost(timeout)
          .pollDelay(Duration.ZERO)
          .pollInterval(POLL)
          .until(
              () -> {
                List<String> problems = problems(goal);
                last.set(problems);
                return problems.isEmpty();
              });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          "waited "
              + timeout.toSeconds()
              + " s for "
              + what
              + "; still: "
              + String.join("; ", last.get())
              + "\n"
              + describe(),
          e);
    }
  }

  /**
   * What keeps the cluster from being stable now (nothing when it is): every running node says
   * {@code cluster_state:ok}, all 16384 slots assigned and served by masters not failing, and knows
   * every node; their {@code CLUSTER NODES} agree (ids, ports, roles, masters, slots, links, and
   * flags but {@code myself}); no slot is migrating or importing; no node is in handshake, without
   * an address, or doubted ({@code fail?}); a killed node is {@code fail} and running ones are not;
   * each running node is a master with slots or a replica of one; every replica's link is up, its
   * sync done, and its replication offset at least its master's offset read just before. The {@code
   * goal} is then checked on the agreed view.
   */
  private List<String> problems(Predicate<List<Node>> goal) {
    List<String> problems = new ArrayList<>();
    List<LocalRedis> running = live();
    Map<Integer, List<Node>> views = new LinkedHashMap<>();
    for (LocalRedis node : running) {
      int port = node.port();
      try {
        Map<String, String> info = fields(text(port, "CLUSTER", "INFO"));
        expectField(problems, port, info, "cluster_state", "ok");
        expectField(problems, port, info, "cluster_slots_assigned", Integer.toString(SLOTS));
        expectField(problems, port, info, "cluster_slots_ok", Integer.toString(SLOTS));
        expectField(problems, port, info, "cluster_known_nodes", Integer.toString(nodes.size()));
        views.put(port, parseNodes(text(port, "CLUSTER", "NODES")));
      } catch (RuntimeException e) {
        problems.add(port + " did not answer: " + e.getMessage());
      }
    }
    if (!problems.isEmpty()) {
      return problems;
    }
    Map<Set<String>, List<Integer>> distinct = new LinkedHashMap<>();
    views.forEach(
        (port, view) ->
            distinct
                .computeIfAbsent(
                    view.stream().map(Node::agreed).collect(Collectors.toCollection(TreeSet::new)),
                    v -> new ArrayList<>())
                .add(port));
    if (distinct.size() > 1) {
      distinct.forEach((view, ports) -> problems.add("nodes " + ports + " see " + view));
      return problems;
    }
    views.forEach(
        (port, view) ->
            view.stream()
                .filter(n -> n.flags().contains("myself") && !n.openSlots().isEmpty())
                .forEach(n -> problems.add(port + " has open slots " + n.openSlots())));
    List<Node> view = views.values().iterator().next();
    BitSet covered = new BitSet(SLOTS);
    for (Node n : view) {
      boolean dead = killed.containsKey(n.port());
      for (String flag : List.of("fail?", "handshake", "noaddr")) {
        if (n.flags().contains(flag)) {
          problems.add(n.port() + " is flagged " + flag);
        }
      }
      if (dead != n.failed()) {
        problems.add(
            n.port() + (dead ? " was killed but is not" : " runs but is") + " flagged fail");
      }
      if (dead) {
        continue;
      }
      if (n.master()) {
        if (n.slotCount() == 0) {
          problems.add(n.port() + " is a master without slots");
        }
        for (SlotRange range : n.slots()) {
          if (covered.get(range.first(), range.last() + 1).cardinality() > 0) {
            problems.add(n.port() + " serves slots another master serves: " + range);
          }
          covered.set(range.first(), range.last() + 1);
        }
      } else {
        Optional<Node> master = n.masterId().flatMap(id -> byId(view, id));
        if (master.isEmpty() || !master.get().master() || master.get().failed()) {
          problems.add(n.port() + " replicates no running master");
        }
      }
    }
    if (covered.cardinality() != SLOTS) {
      problems.add("masters serve " + covered.cardinality() + " slots");
    }
    if (problems.isEmpty()) {
      replication(view, problems);
    }
    if (problems.isEmpty() && !goal.test(view)) {
      problems.add("not there yet: " + view.stream().map(Node::agreed).toList());
    }
    return problems;
  }

  private void replication(List<Node> view, List<String> problems) {
    Map<String, Long> masterOffsets = new HashMap<>();
    for (Node n : view) {
      if (n.master() && !n.failed()) {
        masterOffsets.put(
            n.id(),
            Long.parseLong(
                fields(text(n.port(), "INFO", "replication")).get("master_repl_offset")));
      }
    }
    for (Node n : view) {
      if (n.master() || n.failed()) {
        continue;
      }
      Node master = byId(view, n.masterId().orElseThrow()).orElseThrow();
      Map<String, String> info = fields(text(n.port(), "INFO", "replication"));
      expectField(problems, n.port(), info, "role", "slave");
      expectField(problems, n.port(), info, "master_port", Integer.toString(master.port()));
      expectField(problems, n.port(), info, "master_link_status", "up");
      expectField(problems, n.port(), info, "master_sync_in_progress", "0");
      long offset = Long.parseLong(info.getOrDefault("slave_repl_offset", "-1"));
      if (offset < masterOffsets.get(master.id())) {
        problems.add(
            n.port()
                + " replicated up to "
                + offset
                + " of "
                + masterOffsets.get(master.id())
                + " from "
                + master.port());
      }
    }
  }

  private static void expectField(
      List<String> problems, int port, Map<String, String> fields, String name, String expected) {
    String actual = fields.get(name);
    if (!expected.equals(actual)) {
      problems.add(port + " has " + name + ":" + actual);
    }
  }

  private static Map<String, String> fields(String info) {
    Map<String, String> fields = new HashMap<>();
    for (String line : info.split("\r?\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("#")) {
        fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
      }
    }
    return fields;
  }

  private static List<Node> parseNodes(String text) {
    return text.lines()
        .filter(line -> !line.isBlank())
        .map(Node::parse)
        .sorted((a, b) -> Integer.compare(a.port(), b.port()))
        .toList();
  }

  private Node liveMaster(int port) {
    if (killed.containsKey(port)) {
      throw new IllegalArgumentException("the node on " + port + " was killed");
    }
    Node node = node(port);
    if (!node.master() || node.failed()) {
      throw new IllegalArgumentException(
          "the node on " + port + " is not a running master: " + node);
    }
    return node;
  }

  private static List<Node> replicasOf(List<Node> view, Node master) {
    return view.stream()
        .filter(n -> !n.failed() && n.masterId().equals(Optional.of(master.id())))
        .toList();
  }

  private LocalRedis server(int port) {
    return nodes.stream()
        .filter(n -> n.port() == port)
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no node of the cluster on port " + port));
  }

  private List<LocalRedis> live() {
    return nodes.stream().filter(n -> !killed.containsKey(n.port())).toList();
  }

  /**
   * Starts a stopped node again with its nodes.conf and nothing else of what it had ({@link
   * LocalRedis#start} removes a dump.rdb a full sync left).
   */
  private static void startEmpty(LocalRedis server) {
    server.start();
  }

  private void expectOk(int port, String... arguments) {
    String reply = command(port, arguments);
    if (!reply.startsWith("+OK")) {
      throw new IllegalStateException(
          String.join(" ", arguments) + " on " + port + " answered " + reply);
    }
  }

  private void runCli(List<String> command) {
    ProcessRun run = ProcessRun.of(command, TIMEOUT);
    lastCli = String.join(" ", command) + "\n" + run.output();
    if (!run.succeeded()) {
      throw new IllegalStateException(
          (run.ended() ? "failed with exit code " + run.exitCode() : "timed out")
              + ": "
              + lastCli
              + "\n"
              + describe());
    }
  }

  /** The whole reply to one command, as text: a bulk string's content, a status, an error. */
  private String text(int port, String... arguments) {
    try (Socket socket = connect(port)) {
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      out.write(Resp.encode(arguments).getBytes(StandardCharsets.UTF_8));
      out.flush();
      Object reply = Resp.reply(new BufferedInputStream(socket.getInputStream()));
      if (reply instanceof byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
      }
      if (reply instanceof String status && status.startsWith("-")) {
        throw new IllegalStateException(String.join(" ", arguments) + ": " + status);
      }
      return String.valueOf(reply);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A connection to the node on {@code port}, with TLS when the cluster speaks it. */
  private Socket connect(int port) throws IOException {
    Socket plain = new Socket();
    try {
      plain.connect(new InetSocketAddress(HOST, port), 1_000);
      if (tls == null) {
        return plain;
      }
      SSLSocket socket = (SSLSocket) tlsSockets.createSocket(plain, HOST, port, true);
      socket.setSoTimeout(5_000);
      socket.startHandshake();
      return socket;
    } catch (IOException | RuntimeException e) {
      plain.close();
      throw e;
    }
  }

  /**
   * For failure messages: the last {@code redis-cli} run, and for every node its {@code CLUSTER
   * NODES}, its replication state and the tail of its log.
   */
  public String describe() {
    StringBuilder text =
        new StringBuilder("Redis Cluster of ").append(nodes.size()).append(" nodes");
    if (!lastCli.isEmpty()) {
      text.append("\nlast redis-cli run: ").append(abridge(lastCli.strip(), 20, 10));
    }
    for (LocalRedis node : nodes) {
      int port = node.port();
      text.append("\n=== ")
          .append(HOST)
          .append(':')
          .append(port)
          .append(killed.containsKey(port) ? " (killed, port held)" : "")
          .append(" in ")
          .append(node.directory())
          .append('\n');
      if (!killed.containsKey(port)) {
        try {
          text.append("CLUSTER NODES:\n")
              .append(text(port, "CLUSTER", "NODES").strip())
              .append('\n');
          Map<String, String> info = fields(text(port, "INFO", "replication"));
          text.append("replication: ")
              .append(
                  info.entrySet().stream()
                      .filter(e -> !e.getKey().startsWith("repl_backlog"))
                      .map(e -> e.getKey() + "=" + e.getValue())
                      .sorted()
                      .collect(Collectors.joining(" ")))
              .append('\n');
        } catch (RuntimeException e) {
          text.append("no answer: ").append(e.getMessage()).append('\n');
        }
      }
      text.append("log tail:\n").append(tail(node.directory().resolve("redis.log"), 15));
    }
    return text.toString();
  }

  /** The first {@code head} and last {@code tail} lines of {@code text}. */
  private static String abridge(String text, int head, int tail) {
    List<String> lines = text.lines().toList();
    if (lines.size() <= head + tail) {
      return text;
    }
    return String.join("\n", lines.subList(0, head))
        + "\n... ("
        + (lines.size() - head - tail)
        + " lines)\n"
        + String.join("\n", lines.subList(lines.size() - tail, lines.size()));
  }

  private static String tail(Path log, int count) {
    try {
      if (!Files.exists(log)) {
        return "(no log)\n";
      }
      List<String> lines = Files.readAllLines(log);
      return lines.subList(Math.max(0, lines.size() - count), lines.size()).stream()
          .map(line -> line + "\n")
          .collect(Collectors.joining());
    } catch (IOException | UncheckedIOException e) {
      return "(log unreadable: " + e + ")\n";
    }
  }

  @Override
  public void close() {
    killed.values().forEach(holds -> holds.forEach(PortHold::close));
    killed.clear();
    for (LocalRedis node : nodes) {
      node.close();
    }
    Cleanup.unregister(this);
  }

  @Override
  public String toString() {
    return "Redis Cluster on " + nodes.stream().map(n -> Integer.toString(n.port())).toList();
  }

  /**
   * Keeps a dead node's port from other processes: listens on it, and closes each connection as
   * soon as it is accepted (with a reset), so that clients and the other nodes find nothing there.
   * A socket bound without listening would not do: the port may have connections in TIME_WAIT,
   * which make a bind without SO_REUSEADDR fail, and with it redis-server could bind it too.
   */
  private static final class PortHold implements AutoCloseable {
    private final ServerSocket socket;

    private PortHold(ServerSocket socket) {
      this.socket = socket;
    }

    static PortHold on(int port) {
      try {
        ServerSocket socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(HOST, port));
        PortHold hold = new PortHold(socket);
        Thread accept = new Thread(hold::refuse, "cachesync-port-hold-" + port);
        accept.setDaemon(true);
        accept.start();
        return hold;
      } catch (IOException e) {
        throw new UncheckedIOException("could not hold the port " + port + " of a killed node", e);
      }
    }

    private void refuse() {
      while (!socket.isClosed()) {
        try (Socket connection = socket.accept()) {
          connection.setSoLinger(true, 0);
        } catch (IOException e) {
          // Closed, or the peer gave up first.
        }
      }
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
