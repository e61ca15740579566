package io.cachesync.testing;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Watches every write Redis applies, through {@code MONITOR}, and records each one that lowers a
 * key's version (invariant 2): a write whose version is below the highest version already written
 * to or evicted from that key. Redis's monitor shows the commands a Lua script runs right after the
 * script call, so the writes the version guard let through are seen, and the ones it refused are
 * not. This is the whole history, not a sample: a regression that lasts a microsecond is caught.
 *
 * <p>A transaction is judged by what it leaves behind, because no reader sees inside one: a key
 * written below its highest version within a MULTI/EXEC and evicted again later in it was never
 * visible. That happens when a batch is retried after its EXEC ran but the reply was lost (a cut
 * connection): the retry writes the batch's earlier changes again over keys its later changes had
 * deleted, and deletes them again. Redis's monitor prints MULTI when it arrives and the queued
 * commands, uninterrupted, when EXEC runs them, followed by the EXEC itself.
 *
 * <p>It follows a Redis restart by connecting again; writes in that gap are not seen. It judges a
 * server's writes only while the server is master, and after a failover promoted it, against what
 * it holds rather than what it was written before (see {@link #connected}).
 */
public final class WriteHistory implements AutoCloseable {

  /** Every key's version: a hash's {@code __v}, a JSON value's leading {@code __v}. */
  private static final String HOLDINGS_SCRIPT =
      """
      local json = '^{"__v":"' .. string.rep('[0-9a-f]', 32) .. '"'
      local out = {}
      for _, key in ipairs(redis.call('KEYS', '*')) do
        local kind = redis.call('TYPE', key)['ok']
        local version = nil
        if kind == 'hash' then
          version = redis.call('HGET', key, '__v')
        elseif kind == 'string' then
          local head = redis.call('GETRANGE', key, 0, 40)
          if string.match(head, json) then
            version = string.sub(head, 9, 40)
          end
        end
        if version then
          out[#out + 1] = key
          out[#out + 1] = version
        end
      end
      return out
      """;

  private static final Pattern LINE = Pattern.compile("^(\\d+\\.\\d+) \\[\\d+ ([^\\]]+)\\] (.*)$");
  private static final Pattern JSON_VERSION =
      Pattern.compile("^\\{\\\\\"__v\\\\\":\\\\\"([0-9a-f]{32})");

  /**
   * A write below what the key held before.
   *
   * @param at when Redis applied it, as its monitor prints time (seconds since the epoch)
   */
  public record Regression(String key, String highest, String written, String at) {
    @Override
    public String toString() {
      return key + ": wrote " + written + " after " + highest + " at " + at;
    }
  }

  private final RedisServer server;
  private final String evictScriptSha;

  /**
   * The digests of evict.lua and write_hash.lua as a Redis Cluster's masters run them, wrapped
   * ({@link io.cachesync.redis.ShardScripts}): their keys follow the shard key, the lease owner and
   * their count.
   */
  private final String clusterEvictSha;

  private final String clusterHashSha;

  private final Set<String> clusterWriteShas;
  private final Set<String> writeScriptShas;
  private final String hashScriptSha;
  private final AtomicLong refused = new AtomicLong();
  private final java.util.concurrent.atomic.AtomicReference<Throwable> unreadable =
      new java.util.concurrent.atomic.AtomicReference<>();
  private final Map<String, String> highest = new HashMap<>();

  /** The server's run id and replication id when the monitor last connected. */
  private String lastRunId;

  private String lastReplicationId;

  private boolean lastWasMaster;

  /** Whether the server was master when the monitor connected: only then are writes judged. */
  private boolean judging = true;

  private long failovers;

  private final List<Regression> regressions = new ArrayList<>();

  /** Clients that sent MULTI and have not yet sent EXEC or DISCARD. */
  private final Set<String> inMulti = new java.util.HashSet<>();

  /** The writes and evictions of the transaction EXEC is running, in order; null outside one. */
  private List<Effect> transaction;

  /** A write or an eviction a transaction made, judged when it ends. */
  private record Effect(String key, String version, boolean write, String at) {}

  private final AtomicLong writes = new AtomicLong();

  /**
   * Writes Redis executed, by the address of the client that sent them, directly or through a
   * script (Redis's monitor shows a script's commands, as client "lua", right after its call).
   */
  private final Map<String, AtomicLong> writesByClient =
      new java.util.concurrent.ConcurrentHashMap<>();

  private static final Set<String> WRITE_COMMANDS =
      Set.of("SET", "HSET", "HDEL", "DEL", "UNLINK", "EXPIRE", "PEXPIRE", "LPUSH", "RPUSH");

  /** The last client that sent a command: the one a script's commands run for. */
  private String lastCaller = "";

  /**
   * The last commands Redis ran on each key, abbreviated, for a post-mortem of a divergent key
   * ({@link #trail}): what wrote, evicted or merged it, when, and from which client.
   */
  private final Map<String, java.util.ArrayDeque<String>> trails = new HashMap<>();

  private static final int TRAIL = 24;

  private final AtomicLong undone = new AtomicLong();
  private final AtomicLong connections = new AtomicLong();
  private final Thread reader;
  private String at = "";
  private volatile String lastEcho = "";
  private volatile boolean closed;
  private volatile Socket socket;

  public WriteHistory(RedisServer server) {
    this.server = server;
    this.evictScriptSha = sha1("/io/cachesync/redis/evict.lua");
    this.clusterEvictSha = sha1Of(io.cachesync.redis.ShardScripts.text("evict"));
    this.clusterHashSha = sha1Of(io.cachesync.redis.ShardScripts.text("write_hash"));
    this.clusterWriteShas =
        Set.of(clusterHashSha, sha1Of(io.cachesync.redis.ShardScripts.text("write_json")));
    this.hashScriptSha = sha1("/io/cachesync/redis/write_hash.lua");
    this.writeScriptShas =
        Set.of(
            sha1("/io/cachesync/redis/write_hash.lua"), sha1("/io/cachesync/redis/write_json.lua"));
    this.reader = new Thread(this::read, "write-history");
    reader.setDaemon(true);
    reader.start();
  }

  private void read() {
    while (!closed) {
      try (Socket connection = new Socket()) {
        socket = connection;
        // A transaction cut short by a restart left nothing readers could see.
        inMulti.clear();
        synchronized (this) {
          transaction = null;
        }
        connection.connect(new InetSocketAddress(server.host(), server.port()), 1_000);
        connections.incrementAndGet();
        OutputStream out = connection.getOutputStream();
        InputStream replies = new BufferedInputStream(connection.getInputStream());
        // Redis drops a client whose unread output passes its class's limit: a monitor falling
        // behind a busy server would be cut off, and miss writes until it connects again.
        // All pipelined: Redis runs one client's commands back to back, so INFO and what the
        // script reads describe the server exactly where the monitor's output begins.
        send(
            out,
            "CONFIG SET client-output-buffer-limit \"normal 0 0 0 replica 0 0 0 pubsub 0 0 0\"\r\n"
                + "INFO server replication\r\n"
                + Resp.encode("EVAL", HOLDINGS_SCRIPT, "0")
                + "MONITOR\r\n");
        Resp.reply(replies);
        Object info = Resp.reply(replies);
        connected(info, Resp.reply(replies));
        BufferedReader in =
            new BufferedReader(new InputStreamReader(replies, StandardCharsets.UTF_8));
        String line;
        String evictKey = null;
        String evictVersion = null;
        long rowsCalled = 0;
        long rowsWritten = 0;
        while ((line = in.readLine()) != null) {
          Matcher matcher = LINE.matcher(line.startsWith("+") ? line.substring(1) : line);
          if (!matcher.matches()) {
            continue;
          }
          at = matcher.group(1);
          List<String> words = arguments(matcher.group(3));
          if (words.isEmpty()) {
            continue;
          }
          String command = words.get(0).toUpperCase();
          String client = matcher.group(2);
          boolean lua = client.equals("lua");
          if (!lua) {
            lastCaller = client;
          }
          remember(client, command, words);
          if (WRITE_COMMANDS.contains(command)) {
            writesByClient.computeIfAbsent(lastCaller, c -> new AtomicLong()).incrementAndGet();
          }
          if (!lua && transactionLine(client, command)) {
            continue;
          }
          if (!lua && command.equals("ECHO") && words.size() >= 2) {
            lastEcho = words.get(1);
            continue;
          }
          if (lua && (command.equals("HSET") || command.equals("SET"))) {
            rowsWritten++;
          }
          if (!lua && command.equals("HSET") && words.size() >= 4 && words.get(2).equals("__v")) {
            // A hash written with a plain HSET: cachesync writes hashes through its scripts, the
            // tests write some directly.
            written(words.get(1), words.get(3), true);
          } else if (!lua && command.equals("SET") && words.size() >= 3) {
            // A JSON row of an initial load, written with a plain SET.
            Matcher version = JSON_VERSION.matcher(words.get(2));
            if (version.find()) {
              written(words.get(1), version.group(1), true);
            }
          }
          if (!lua) {
            refused.addAndGet(Math.max(0, rowsCalled - rowsWritten));
            boolean writeCall =
                command.equals("EVALSHA")
                    && words.size() >= 3
                    && writeScriptShas.contains(words.get(1));
            boolean clusterWriteCall =
                command.equals("EVALSHA")
                    && words.size() >= 6
                    && clusterWriteShas.contains(words.get(1));
            // write_hash.lua takes key pairs (a row's key and the key it merges from); wrapped,
            // their count follows the shard key and the owner.
            rowsCalled =
                clusterWriteCall
                    ? (words.get(1).equals(clusterHashSha) ? Long.parseLong(words.get(5)) / 2 : 1)
                    : !writeCall
                        ? 0
                        : words.get(1).equals(hashScriptSha) ? Long.parseLong(words.get(2)) / 2 : 1;
            rowsWritten = 0;
            // EVALSHA sha numkeys key [position-key] version [fence]: an orphan sweep's eviction
            // names the position key too. Wrapped: EVALSHA sha 1 shard owner n key [...] version.
            int evictKeys = evictKeyCount(command, words);
            boolean evict =
                evictKeys > 0
                    && words.size() >= 4 + evictKeys
                    && words.get(1).equals(evictScriptSha);
            boolean clusterEvict =
                command.equals("EVALSHA")
                    && words.size() >= 8
                    && words.get(1).equals(clusterEvictSha);
            if (clusterEvict) {
              int keys = Integer.parseInt(words.get(5));
              evictKey = words.get(6);
              evictVersion = words.size() > 6 + keys ? words.get(6 + keys) : null;
              if (evictVersion == null) {
                evictKey = null;
              }
            } else {
              evictKey = evict ? words.get(3) : null;
              evictVersion = evict ? words.get(3 + evictKeys) : null;
            }
          } else if (command.equals("HSET") && words.size() >= 4 && words.get(2).equals("__v")) {
            written(words.get(1), words.get(3), true);
          } else if (command.equals("SET") && words.size() >= 3) {
            Matcher version = JSON_VERSION.matcher(words.get(2));
            if (version.find()) {
              written(words.get(1), version.group(1), true);
            }
          } else if (command.equals("DEL") && words.size() == 2 && words.get(1).equals(evictKey)) {
            written(evictKey, evictVersion, false);
          }
        }
      } catch (IOException e) {
        // Redis went away (restarted, or the test closed this): connect again below.
      } catch (RuntimeException | StackOverflowError e) {
        unreadable.compareAndSet(null, e);
        return;
      }
      if (!closed) {
        try {
          Thread.sleep(50); // a reconnect delay, not a synchronisation: Redis may be restarting
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** How many keys an EVALSHA names (its third word); 0 for another command. */
  private static int evictKeyCount(String command, List<String> words) {
    if (!command.equals("EVALSHA") || words.size() < 3) {
      return 0;
    }
    try {
      return Integer.parseInt(words.get(2));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** Adds a command to the trail of each key it names (a script's keys, or the first argument). */
  private void remember(String client, String command, List<String> words) {
    List<String> keys;
    if ((command.equals("EVALSHA") || command.equals("EVAL")) && words.size() >= 3) {
      int count;
      try {
        count = Integer.parseInt(words.get(2));
      } catch (NumberFormatException e) {
        return;
      }
      keys = words.subList(3, Math.min(words.size(), 3 + count));
    } else if (words.size() >= 2 && !command.equals("ECHO") && !command.equals("INFO")) {
      keys = words.subList(1, 2);
    } else {
      return;
    }
    StringBuilder entry = new StringBuilder(at).append(' ').append(client).append(':');
    for (String word : words.subList(0, Math.min(words.size(), 8))) {
      entry.append(' ').append(word.length() > 48 ? word.substring(0, 48) + "..." : word);
    }
    synchronized (this) {
      for (String key : keys) {
        java.util.ArrayDeque<String> trail =
            trails.computeIfAbsent(key, k -> new java.util.ArrayDeque<>());
        if (trail.size() == TRAIL) {
          trail.removeFirst();
        }
        trail.addLast(entry.toString());
      }
    }
  }

  /** The last commands Redis ran on a key, oldest first (a script's own commands as "lua"). */
  public synchronized List<String> trail(String key) {
    return List.copyOf(trails.getOrDefault(key, new java.util.ArrayDeque<>()));
  }

  /**
   * Follows MULTI, EXEC and DISCARD; returns whether the line was one of them. A command from a
   * client in MULTI is one EXEC is running: a transaction starts with the first such command.
   */
  private boolean transactionLine(String client, String command) {
    switch (command) {
      case "MULTI" -> {
        inMulti.add(client);
        return true;
      }
      case "EXEC" -> {
        inMulti.remove(client);
        endTransaction();
        return true;
      }
      case "DISCARD" -> {
        inMulti.remove(client);
        return true;
      }
      default -> {
        if (inMulti.contains(client) && transaction == null) {
          transaction = new ArrayList<>();
        }
        return false;
      }
    }
  }

  private synchronized void endTransaction() {
    if (transaction == null) {
      return;
    }
    List<Effect> effects = transaction;
    transaction = null;
    Map<String, Effect> last = new java.util.LinkedHashMap<>();
    Map<String, String> top = new HashMap<>();
    for (Effect effect : effects) {
      last.put(effect.key(), effect);
      top.merge(effect.key(), effect.version(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
    }
    for (Effect effect : effects) {
      String before = highest.get(effect.key());
      if (effect.write()
          && before != null
          && effect.version().compareTo(before) < 0
          && last.get(effect.key()) != effect) {
        undone.incrementAndGet();
      }
    }
    // What the transaction left at each key against what readers could see before it.
    for (Effect effect : last.values()) {
      String before = highest.get(effect.key());
      if (effect.write() && before != null && effect.version().compareTo(before) < 0) {
        regressions.add(new Regression(effect.key(), before, effect.version(), effect.at()));
      }
    }
    top.forEach(
        (key, version) -> highest.merge(key, version, (a, b) -> a.compareTo(b) >= 0 ? a : b));
  }

  private synchronized void written(String key, String version, boolean write) {
    writes.incrementAndGet();
    if (!judging) {
      return;
    }
    if (transaction != null) {
      transaction.add(new Effect(key, version, write, at));
      return;
    }
    String before = highest.get(key);
    if (write && before != null && version.compareTo(before) < 0) {
      regressions.add(new Regression(key, before, version, at));
    }
    if (before == null || version.compareTo(before) > 0) {
      highest.put(key, version);
    }
  }

  /**
   * Decides, at each connection, what the monitor's output is judged against (INFO's reply, and
   * {@link #HOLDINGS_SCRIPT}'s: key and version in turn). Only a master's writes are judged: a
   * replica's data is what it replicates (MONITOR shows the replicated writes, from the master's
   * address) and a full resync replaces it unseen, so a replica's history knows nothing. A server
   * that is master now but was a replica, or another master (the same run id with another
   * replication id), when the monitor last connected was promoted: Sentinel closes every client of
   * a server it promotes or demotes (CLIENT KILL TYPE normal, a monitor too), and MONITOR does not
   * show REPLICAOF (an admin command). Its history goes on from what it holds, not from what it was
   * written when it was master before: a write above that is no regression readers could see, one
   * below still is. A key a replicated eviction removed is known again only once written: the price
   * of not knowing what a failover lost (Redis's asynchronous replication, which cachesync does not
   * promise). A restart (another run id) keeps what was seen: after a restart empty, a write below
   * it is one readers could see go back. An INFO that cannot be read changes nothing.
   */
  private void connected(Object info, Object holdings) {
    Map<String, String> fields = new HashMap<>();
    if (info instanceof byte[] bytes) {
      for (String line : new String(bytes, StandardCharsets.UTF_8).split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0) {
          fields.put(line.substring(0, colon), line.substring(colon + 1));
        }
      }
    }
    String runId = fields.get("run_id");
    String replicationId = fields.get("master_replid");
    String role = fields.get("role");
    if (runId == null || replicationId == null || role == null) {
      return;
    }
    boolean master = role.equals("master");
    boolean promoted =
        master
            && runId.equals(lastRunId)
            && (!lastWasMaster || !replicationId.equals(lastReplicationId));
    synchronized (this) {
      if (!master) {
        highest.clear();
      } else if (promoted) {
        highest.clear();
        if (holdings instanceof List<?> values) {
          for (int i = 0; i + 1 < values.size(); i += 2) {
            if (values.get(i) instanceof byte[] key && values.get(i + 1) instanceof byte[] v) {
              highest.put(Resp.repr(key), new String(v, StandardCharsets.US_ASCII));
            }
          }
        }
        failovers++;
      }
      judging = master;
    }
    lastRunId = runId;
    lastReplicationId = replicationId;
    lastWasMaster = master;
  }

  /** How often the history found its server promoted, and went on from what it held. */
  public synchronized long failoversSeen() {
    return failovers;
  }

  private static void send(OutputStream out, String commands) throws IOException {
    out.write(commands.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  /** The SHA1 Redis names a script by, as EVALSHA calls show it. */
  private static String sha1Of(String text) {
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-1")
              .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(digest);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String sha1(String resource) {
    try (var in = WriteHistory.class.getResourceAsStream(resource)) {
      byte[] digest = java.security.MessageDigest.getInstance("SHA-1").digest(in.readAllBytes());
      return java.util.HexFormat.of().formatHex(digest);
    } catch (IOException | java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot read " + resource, e);
    }
  }

  /**
   * The quoted words of a monitor line, escapes kept as Redis prints them. A loop, not a regular
   * expression: Java's regex engine recurses per repetition and overflows the stack on the long,
   * escape-heavy values the workload writes.
   */
  private static List<String> arguments(String text) {
    List<String> words = new ArrayList<>();
    int i = 0;
    while ((i = text.indexOf('"', i)) >= 0) {
      StringBuilder word = new StringBuilder();
      i++;
      while (i < text.length() && text.charAt(i) != '"') {
        if (text.charAt(i) == '\\' && i + 1 < text.length()) {
          word.append(text.charAt(i++));
        }
        word.append(text.charAt(i++));
      }
      words.add(word.toString());
      i++;
    }
    return words;
  }

  /** The regressions seen; fails when the monitor's output could not be read. */
  public synchronized List<Regression> regressions() {
    if (unreadable.get() != null) {
      throw new IllegalStateException("the write history could not be read", unreadable.get());
    }
    return List.copyOf(regressions);
  }

  /**
   * Waits until the history has read everything Redis ran so far: the monitor's output can lag
   * behind a busy server, and a verdict must not be given on part of it. Redis prints an ECHO sent
   * now after every command it ran before.
   */
  public void awaitCaughtUp(java.time.Duration atMost) {
    String marker = "write-history-" + System.nanoTime();
    server.command("ECHO", marker);
    org.awaitility.Awaitility.await("the write history reading all Redis ran")
        .atMost(atMost)
        .pollInterval(java.time.Duration.ofMillis(50))
        .failFast("the write history could not be read", () -> unreadable.get() != null)
        .until(() -> lastEcho.equals(marker));
  }

  /** The highest version written to or evicted from a key so far, as far as the monitor saw. */
  public synchronized java.util.Optional<String> highestVersion(String key) {
    return java.util.Optional.ofNullable(highest.get(key));
  }

  /** Rows the write scripts were called for but did not write: refused by the version guard. */
  public long refusedWrites() {
    return refused.get();
  }

  /**
   * Writes below a key's highest version that a later command of their own transaction replaced or
   * deleted: never visible, so not regressions (a batch applied again after a lost EXEC reply).
   */
  public long undoneInTransaction() {
    return undone.get();
  }

  /**
   * How often the monitor connected again after its connection ended: a Redis restart, or else a
   * gap in the history.
   */
  public long reconnects() {
    return Math.max(0, connections.get() - 1);
  }

  /**
   * Writes Redis executed for these clients ({@code host:port}, as CLIENT LIST's {@code addr}),
   * directly or through their scripts; a script that refused to write does not count.
   */
  public long writesBy(Set<String> clients) {
    return clients.stream()
        .map(writesByClient::get)
        .filter(java.util.Objects::nonNull)
        .mapToLong(AtomicLong::get)
        .sum();
  }

  /** Writes and evictions seen so far: shows the history was watched at all. */
  public long writesSeen() {
    return writes.get();
  }

  /**
   * Connects again, so that the server's role is read anew ({@link #connected}): a Redis Cluster
   * failover ({@code CLUSTER FAILOVER}, or a replica taking over from a killed master) closes no
   * client, so a monitor connected before it would go on judging a demoted master's replicated
   * writes and never judge the promoted replica's own. Writes in the moment it takes are not seen.
   */
  public void reconnect() {
    Socket current = socket;
    if (current != null) {
      try {
        current.close();
      } catch (IOException e) {
        // Already closed: it connects again anyway.
      }
    }
  }

  /** Whether the server was master when the monitor last connected: only then are writes judged. */
  public synchronized boolean judging() {
    return judging;
  }

  /** The port of the watched server. */
  public int port() {
    return server.port();
  }

  @Override
  public void close() {
    closed = true;
    Socket current = socket;
    if (current != null) {
      try {
        current.close();
      } catch (IOException e) {
        // Already closed.
      }
    }
  }
}
