package io.cachesync.bench.measure;

import io.cachesync.redis.HashRowCall;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What Redis itself can take of the commands cachesync sends, measured with {@code redis-benchmark}
 * (50 clients, pipelines of 64) in a database of its own: the Lua write and eviction scripts
 * cachesync loads (read from its jar, so the ARGV layout is the built one) on keys like the
 * workloads' (new keys for narrow inserts; existing wide rows whose TOASTed column the script
 * keeps; existing keys to evict), load_hash.lua writing an initial load's rows on new keys, and a
 * plain {@code HSET} for scale.
 */
public final class RedisBenchmark {
  private static final int DATABASE = 2;
  private static final Pattern RATE = Pattern.compile("([0-9.]+) requests per second");
  private static final String VERSION = "00000000000000000000000000000001";

  /**
   * The wide rows written before the wide-write run: enough to spread the writes, 55 MB at most.
   */
  private static final int WIDE_KEYS = 10_000;

  /**
   * The keys written before the eviction run, per eviction: with this many, about 88% of the
   * evictions (random keys) find their key, as a deleted row's key is found.
   */
  private static final int KEYS_PER_EVICTION = 4;

  /** The column of a wide row that updates leave unchanged (TOASTed), and its cached value. */
  private static final String UNCHANGED_COLUMN = "doc";

  private static final String UNCHANGED_VALUE = "0123456789abcdef".repeat(256);

  /**
   * Rows per second of each command.
   *
   * @param narrowLoad load_hash.lua on new keys, as an initial load writes narrow rows
   * @param plainHset a plain {@code HSET} of a narrow row, for scale
   */
  public record Ceilings(
      double narrowWrite, double wideWrite, double evict, double narrowLoad, double plainHset) {

    /**
     * Rows per second of a mix of narrow writes and evictions in the proportion {@code writes} to
     * {@code evictions}.
     */
    public double mix(int writes, int evictions) {
      return (writes + evictions) / (writes / narrowWrite + evictions / evict);
    }
  }

  private final String host;
  private final int port;
  private final int requests;

  public RedisBenchmark(String host, int port, int requests) {
    this.host = host;
    this.port = port;
    this.requests = requests;
  }

  public Ceilings run() throws IOException, InterruptedException {
    RedisClient client =
        RedisClient.create(
            RedisURI.builder().withHost(host).withPort(port).withDatabase(DATABASE).build());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      String write = redis.scriptLoad(script("write_hash.lua"));
      String evict = redis.scriptLoad(script("evict.lua"));
      String load = redis.scriptLoad(script("load_hash.lua"));
      checkWrite(client, write, "write_hash.lua");
      checkWrite(client, load, "load_hash.lua");
      checkEvict(redis, evict);
      redis.flushdb();
      double narrow =
          rowRate(
              writeCall(write, List.of(), narrowFields()),
              HashRowCall.MAX_ROWS,
              requests,
              requests);
      redis.flushdb();
      int wideKeys = Math.min(requests, WIDE_KEYS);
      fill(connection, wideKeys, wideRow());
      double wide =
          rowRate(
              writeCall(write, List.of(UNCHANGED_COLUMN), wideFields()),
              HashRowCall.MAX_ROWS,
              requests,
              wideKeys);
      redis.flushdb();
      double narrowLoad =
          rowRate(
              writeCall(load, List.of(), narrowFields()), HashRowCall.MAX_ROWS, requests, requests);
      redis.flushdb();
      double plainHset = rowRate(hset(narrowFields()), 1, requests, requests);
      redis.flushdb();
      int evictKeys = KEYS_PER_EVICTION * requests;
      fill(connection, evictKeys, Map.of("__v", VERSION));
      double evictions = rowRate(evalshaEvict(evict), 1, requests, evictKeys);
      redis.flushdb();
      return new Ceilings(narrow, wide, evictions, narrowLoad, plainHset);
    } finally {
      client.shutdown();
    }
  }

  private static String script(String name) {
    try (InputStream in = RedisBenchmark.class.getResourceAsStream("/io/cachesync/redis/" + name)) {
      if (in == null) {
        throw new IllegalStateException("cachesync's " + name + " is not on the class path");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * An {@code EVALSHA} of write_hash.lua as cachesync sends it ({@link HashRowCall}): {@link
   * HashRowCall#MAX_ROWS} rows, each on its own random key. The rows' packed values are one
   * argument, held as ISO-8859-1 text (a char per byte) until {@link #shellWord} passes it on;
   * redis-benchmark's twelve-digit {@code __rand_int__} keeps the packed lengths right.
   *
   * @param unchanged the columns whose cached fields the script keeps
   * @param fields the field/value pairs written
   */
  static List<String> writeCall(String sha, List<String> unchanged, List<String> fields) {
    HashRowCall call = new HashRowCall();
    for (int row = 0; row < HashRowCall.MAX_ROWS; row++) {
      // The key, and the key its unchanged columns come from: redis-benchmark draws each
      // __rand_int__ apart, so this one is another existing row's (one more TYPE than
      // cachesync's call, where both are the same key).
      call.add("bench:__rand_int__", "bench:__rand_int__", VERSION, "0", unchanged, fields);
    }
    List<String> command = new ArrayList<>(List.of("EVALSHA", sha));
    command.add(Integer.toString(2 * call.rows()));
    command.addAll(List.of(call.keys()));
    command.add(new String(call.packedValues(), StandardCharsets.ISO_8859_1));
    return command;
  }

  /**
   * Calls the built script (write_hash.lua or load_hash.lua) once as {@link #writeCall} does, so
   * that a changed layout fails here rather than measuring errors.
   */
  private static void checkWrite(RedisClient client, String sha, String name) {
    List<String> call = writeCall(sha, List.of(), narrowFields());
    int keyCount = Integer.parseInt(call.get(2));
    try (StatefulRedisConnection<byte[], byte[]> connection =
        client.connect(ByteArrayCodec.INSTANCE)) {
      byte[][] keys = new byte[keyCount][];
      Arrays.fill(keys, "bench:check".getBytes(StandardCharsets.UTF_8));
      byte[] values =
          call.get(3 + keyCount)
              .replace("__rand_int__", "000000000001")
              .getBytes(StandardCharsets.ISO_8859_1);
      Object reply;
      try {
        reply = connection.sync().evalsha(sha, ScriptOutputType.MULTI, keys, values);
      } catch (RuntimeException e) {
        reply = e.getMessage();
      }
      List<?> statuses = reply instanceof List<?> list ? list : List.of(reply);
      if (statuses.size() != HashRowCall.MAX_ROWS
          || !statuses.stream().allMatch(status -> "written".equals(text(status)))) {
        throw new IllegalStateException(
            "cachesync's "
                + name
                + " did not take the call cachesync sends ("
                + statuses.stream().map(RedisBenchmark::text).distinct().toList()
                + "); update RedisBenchmark");
      }
    }
  }

  private static String text(Object reply) {
    return reply instanceof byte[] bytes
        ? new String(bytes, StandardCharsets.UTF_8)
        : String.valueOf(reply);
  }

  /**
   * A word bash passes on byte for byte: every char of {@code latin1} (one byte each) outside a few
   * safe ones as a {@code $'\xHH'} escape. A NUL cannot pass as a command-line argument at all.
   */
  static String shellWord(String latin1) {
    StringBuilder word = new StringBuilder(latin1.length() * 2 + 3).append("$'");
    for (int i = 0; i < latin1.length(); i++) {
      char c = latin1.charAt(i);
      if (c == 0 || c > 0xff) {
        throw new IllegalArgumentException(
            "a command-line argument cannot hold the byte " + (int) c + ": " + latin1);
      }
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '_'
          || c == ':'
          || c == '.'
          || c == '-') {
        word.append(c);
      } else {
        word.append(String.format("\\x%02x", (int) c));
      }
    }
    return word.append('\'').toString();
  }

  private static void checkEvict(RedisCommands<String, String> redis, String sha) {
    redis.hset("bench:check", "__v", VERSION);
    Object reply =
        redis.evalsha(sha, ScriptOutputType.STATUS, new String[] {"bench:check"}, VERSION);
    if (!"evicted".equals(String.valueOf(reply))) {
      throw new IllegalStateException(
          "cachesync's evict.lua answered '"
              + reply
              + "' instead of 'evicted'; update RedisBenchmark");
    }
  }

  /** A narrow row as W1 writes it: four columns. */
  static List<String> narrowFields() {
    return List.of(
        "id",
        "__rand_int__",
        "name",
        "name 123456",
        "kind",
        "6",
        "at",
        "2026-11-25T19:24:35.804040Z");
  }

  /**
   * A wide row as W2 writes it: the 19 columns an update sends, about 1.3 KB (the TOASTed 20th is
   * kept by the script, not sent).
   */
  static List<String> wideFields() {
    List<String> fields =
        new ArrayList<>(
            List.of(
                "id", "__rand_int__",
                "tenant", "42",
                "name", "name 123456",
                "email", "user123456@example.com",
                "status", "active",
                "price", "12.30",
                "qty", "17",
                "created", "2026-11-25T19:24:35.804040Z",
                "updated", "2026-11-25T19:24:35.804040Z",
                "active", "true",
                "tags", "[\"a\",\"b\",\"c\"]",
                "attrs",
                    "{\"plan\": \"pro\", \"seats\": 12, \"seen\": 1234, \"region\": \"eu-west-1\", \"notes\": \""
                        + "j".repeat(150)
                        + "\", \"features\": [\"x\", \"y\", \"z\"]}",
                "revision", "17"));
    for (int i = 1; i <= 6; i++) {
      fields.addAll(List.of("note" + i, "note " + i + " " + "n".repeat(110)));
    }
    return fields;
  }

  /** A wide row as cached before W2's updates: its columns, the unchanged one and the version. */
  private static Map<String, String> wideRow() {
    Map<String, String> row = new LinkedHashMap<>();
    row.put("__v", VERSION);
    List<String> fields = wideFields();
    for (int i = 0; i < fields.size(); i += 2) {
      row.put(fields.get(i), fields.get(i + 1).replace("__rand_int__", "1"));
    }
    row.put(UNCHANGED_COLUMN, UNCHANGED_VALUE);
    return row;
  }

  private static List<String> evalshaEvict(String sha) {
    return List.of("EVALSHA", sha, "1", "bench:__rand_int__", VERSION);
  }

  private static List<String> hset(List<String> fields) {
    List<String> command = new ArrayList<>(List.of("HSET", "bench:__rand_int__"));
    command.addAll(fields);
    return command;
  }

  /**
   * Writes {@code hash} under every key redis-benchmark's {@code __rand_int__} names with {@code -r
   * keys}.
   */
  private static void fill(
      StatefulRedisConnection<String, String> connection, int keys, Map<String, String> hash) {
    RedisAsyncCommands<String, String> redis = connection.async();
    connection.setAutoFlushCommands(false);
    try {
      List<RedisFuture<Long>> pending = new ArrayList<>();
      for (int i = 0; i < keys; i++) {
        pending.add(redis.hset(String.format("bench:%012d", i), hash));
        if (pending.size() == 1000 || i == keys - 1) {
          connection.flushCommands();
          for (RedisFuture<Long> reply : pending) {
            reply.toCompletableFuture().join();
          }
          pending.clear();
        }
      }
    } finally {
      connection.setAutoFlushCommands(true);
    }
  }

  /**
   * Rows per second of a command that writes {@code rowsPerCall} rows, sent for {@code rows} rows
   * in all on random keys out of {@code keyspace}: redis-benchmark's requests per second times
   * {@code rowsPerCall}.
   */
  private double rowRate(List<String> command, int rowsPerCall, int rows, int keyspace)
      throws IOException, InterruptedException {
    List<String> arguments =
        new ArrayList<>(
            List.of(
                "redis-benchmark",
                "-h",
                host,
                "-p",
                Integer.toString(port),
                "--dbnum",
                Integer.toString(DATABASE),
                "-P",
                "64",
                "-n",
                Integer.toString(Math.max(100, rows / rowsPerCall)),
                "-r",
                Integer.toString(keyspace),
                "-q"));
    arguments.addAll(command);
    // Through bash, which passes the packed argument's bytes on as they are (Java would encode
    // them as UTF-8).
    String script =
        "exec "
            + arguments.stream().map(RedisBenchmark::shellWord).collect(Collectors.joining(" "));
    Process process = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(5, TimeUnit.MINUTES) || process.exitValue() != 0) {
      throw new IllegalStateException("redis-benchmark failed: " + output);
    }
    return parseRate(output) * rowsPerCall;
  }

  /** The last "N requests per second" in redis-benchmark's quiet output. */
  static double parseRate(String output) {
    Matcher matcher = RATE.matcher(output);
    Double rate = null;
    while (matcher.find()) {
      rate = Double.parseDouble(matcher.group(1));
    }
    if (rate == null || output.contains("ERR")) {
      throw new IllegalStateException("redis-benchmark printed no rate: " + output.strip());
    }
    return rate;
  }
}
