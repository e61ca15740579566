package io.cachesync.bench.consumer;

import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.source.DebeziumChangeSource;
import io.cachesync.source.RedisOffsetBackingStore;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * The reference consumers, each run in a JVM of its own (the daemon's heap, {@value Jvm#HEAP}) by
 * {@link ReferenceProcess}:
 *
 * <ul>
 *   <li>{@code debezium-alone}: the embedded engine with cachesync's exact settings ({@link
 *       DebeziumChangeSource#properties}) and a consumer that only marks each record processed and
 *       counts the changes: what Debezium costs before cachesync does anything;
 *   <li>{@code naive}: the engine with Debezium's default batching and polling (cachesync's tuning
 *       removed) and one synchronous Redis write per change ({@link NaiveRedisWriter}).
 * </ul>
 *
 * <p>Both read their own replication slot and keep offsets in memory. They either stream what the
 * slot holds ({@code --until-marker=N}), a backlog made of segments each closed by an update of the
 * marker row, or snapshot a table on a new slot ({@code --until-rows=N}). The JVM starts ahead and
 * waits for the line {@code go} on its standard input to start the engine. It prints a line per
 * segment:
 *
 * <pre>
 * segment marker=M changes=C written=W start=S first=F lastWrite=L end=E lag50=P lag99=Q lagMax=X
 * </pre>
 *
 * with {@link System#nanoTime()} values of this JVM: S the segment's start (the first change, or
 * the engine's start for a snapshot, or the previous marker), F its first change, L the end of the
 * last Redis write, E the marker's processing; P, Q and X the median, 99th percentile and maximum,
 * in microseconds, of each change's lag: the moment the consumer received it on the machine's wall
 * clock minus its transaction's commit time (the {@code ts_us} of its source block, from the WAL's
 * commit record), what the benchmark's lag probe measures for cachesync up to Redis. With {@code
 * --write-budget-seconds=B} the naive consumer writes for B seconds from the segment's first change
 * and then only counts the segment's other changes (a snapshot stops there): its rate is then W /
 * (L - F). After the last segment it waits for its standard input to close.
 */
public final class ReferenceConsumer {
  static final String DEBEZIUM_ALONE = "debezium-alone";
  static final String NAIVE = "naive";

  /** Debezium's defaults that cachesync overrides for speed; the naive consumer keeps defaults. */
  private static final List<String> TUNING =
      List.of(
          "poll.interval.ms",
          "max.batch.size",
          "max.queue.size",
          "max.queue.size.in.bytes",
          "snapshot.fetch.size",
          "heartbeat.interval.ms",
          "heartbeat.action.query");

  private static final String MARKER_TABLE = ".public.bench_marker";

  private final PrintStream out;
  private final NaiveRedisWriter writer;
  private final long untilMarker;
  private final long untilRows;
  private final long writeBudgetNanos;
  private boolean done;

  /** The segment being read; touched by the engine's thread only. */
  private long start;

  private long first;

  private long changes;
  private long written;
  private long lastWrite;
  private final Histogram lags = new Histogram(TimeUnit.MINUTES.toMicros(10), 3);

  private ReferenceConsumer(
      PrintStream out,
      NaiveRedisWriter writer,
      long untilMarker,
      long untilRows,
      long writeBudgetNanos) {
    this.out = out;
    this.writer = writer;
    this.untilMarker = untilMarker;
    this.untilRows = untilRows;
    this.writeBudgetNanos = writeBudgetNanos;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> options = options(args);
    String kind = options.get("kind");
    if (!DEBEZIUM_ALONE.equals(kind) && !NAIVE.equals(kind)) {
      throw new IllegalArgumentException("--kind must be debezium-alone or naive: " + kind);
    }
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(Path.of(options.get("config")));
    boolean snapshot = options.containsKey("until-rows");
    Properties properties = properties(kind, configuration, options.get("slot"), snapshot);
    NaiveRedisWriter writer =
        NAIVE.equals(kind) ? new NaiveRedisWriter(configuration.settings().redis().uri()) : null;
    long budget =
        TimeUnit.SECONDS.toNanos(
            Long.parseLong(options.getOrDefault("write-budget-seconds", "100000000")));
    ReferenceConsumer consumer =
        new ReferenceConsumer(
            System.out,
            writer,
            Long.parseLong(options.getOrDefault("until-marker", "-1")),
            Long.parseLong(options.getOrDefault("until-rows", "-1")),
            budget);
    consumer.run(properties, snapshot);
  }

  /** cachesync's engine settings, on the consumer's own slot, with offsets kept in memory. */
  static Properties properties(
      String kind, Configuration configuration, String slot, boolean snapshot) {
    Properties properties = DebeziumChangeSource.properties(configuration);
    properties.remove(RedisOffsetBackingStore.STORE_PROPERTY);
    properties.setProperty("name", "bench-" + kind);
    properties.setProperty("slot.name", slot);
    properties.setProperty(
        "offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
    // Streaming: the slot was created before the backlog, so it streams exactly the backlog.
    properties.setProperty("snapshot.mode", snapshot ? "initial" : "no_data");
    if (NAIVE.equals(kind)) {
      TUNING.forEach(properties::remove);
    }
    return properties;
  }

  private void run(Properties properties, boolean snapshot)
      throws IOException, InterruptedException {
    DebeziumEngine<RecordChangeEvent<SourceRecord>> engine =
        DebeziumEngine.create(ChangeEventFormat.of(io.debezium.embedded.Connect.class))
            .using(properties)
            .notifying(this::handle)
            .using(
                (success, message, error) -> {
                  if (!success) {
                    out.println("failed " + message + (error != null ? ": " + error : ""));
                    out.flush();
                    Runtime.getRuntime().halt(1);
                  }
                })
            .build();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    // Started ahead (while the backlog is written), the JVM waits here until its turn to drain.
    if (!"go".equals(in.readLine())) {
      System.exit(0);
    }
    if (snapshot) {
      start = System.nanoTime();
    }
    ExecutorService executor = Executors.newSingleThreadExecutor();
    executor.execute(engine);
    while (in.readLine() != null) {
      // Runs until the benchmark closes standard input (or kills it).
    }
    engine.close();
    executor.shutdown();
    executor.awaitTermination(30, TimeUnit.SECONDS);
    if (writer != null) {
      writer.close();
    }
    System.exit(0);
  }

  private void handle(
      List<RecordChangeEvent<SourceRecord>> records,
      DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
      throws InterruptedException {
    for (RecordChangeEvent<SourceRecord> event : records) {
      SourceRecord record = event.record();
      // Row changes only: not the logical messages (op "m") of the daemons' heartbeats, which
      // reach every slot of the database.
      if (!done
          && record.value() instanceof Struct value
          && value.schema().field("op") != null
          && !"m".equals(value.getString("op"))) {
        if (record.topic().endsWith(MARKER_TABLE)) {
          marker(value.getStruct("after").getInt64("n"));
        } else {
          change(record, value);
        }
      }
      committer.markProcessed(event);
    }
    committer.markBatchFinished();
  }

  private void change(SourceRecord record, Struct value) {
    long now = System.nanoTime();
    Struct source = value.getStruct("source");
    if (source != null) {
      long received = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
      Long committed = source.getInt64("ts_us");
      long lag =
          Math.max(0, received - (committed != null ? committed : source.getInt64("ts_ms") * 1000));
      lags.recordValue(Math.min(lag, lags.getHighestTrackableValue()));
    }
    if (start == 0) {
      start = now;
    }
    if (first == 0) {
      first = now;
    }
    changes++;
    boolean budgetLeft = now - first < writeBudgetNanos;
    if (writer != null && budgetLeft) {
      writer.write(record);
      written++;
      lastWrite = System.nanoTime();
    }
    if (untilRows >= 0 && (changes >= untilRows || (writer != null && !budgetLeft))) {
      endSegment(-1);
      done = true;
    }
  }

  private void marker(long n) {
    endSegment(n);
    done = untilMarker >= 0 && n >= untilMarker;
  }

  private void endSegment(long marker) {
    long end = System.nanoTime();
    out.printf(
        "segment marker=%d changes=%d written=%d start=%d first=%d lastWrite=%d end=%d"
            + " lag50=%d lag99=%d lagMax=%d%n",
        marker,
        changes,
        written,
        start == 0 ? end : start,
        first == 0 ? end : first,
        lastWrite,
        end,
        lags.getValueAtPercentile(50),
        lags.getValueAtPercentile(99),
        lags.getMaxValue());
    out.flush();
    lags.reset();
    start = end;
    first = 0;
    changes = 0;
    written = 0;
    lastWrite = 0;
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (String arg : args) {
      int equals = arg.indexOf('=');
      if (!arg.startsWith("--") || equals < 0) {
        throw new IllegalArgumentException("expected --name=value: " + arg);
      }
      options.put(arg.substring(2, equals), arg.substring(equals + 1));
    }
    return options;
  }
}
