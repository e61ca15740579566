package io.cachesync.job;

import io.cachesync.Daemon;
import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.source.PostgresConnector;
import io.cachesync.state.StateStore;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads tables from PostgreSQL into Redis and removes their orphan keys.
 *
 * <p>The rows are loaded by the daemon, in chunks read between watermarks and merged into the
 * stream (DBLog, {@code source.ChunkedLoads}; Debezium's incremental snapshot before PostgreSQL
 * 14), where a chunk row whose key changed inside the window is dropped in favour of the streamed
 * change. That is what makes a resync safe while the stream runs: writing rows directly, even with
 * versioned compare-and-set, could not tell a key absent because the stream just deleted its row
 * from a key never cached, and would resurrect the row. The job queues its request in Redis for the
 * running daemon; when none runs, it runs one in this process until the load is done. A request
 * taken by a daemon that stopped halfway is queued again, and run from its start, by the next
 * daemon to run.
 */
public final class Resync {
  private static final Logger LOG = LoggerFactory.getLogger(Resync.class);
  private static final Duration POLL = Duration.ofMillis(250);
  private static final Duration LOG_EVERY = Duration.ofSeconds(5);

  /**
   * How long the orphan sweep after the load waits for the stream to apply what committed before it
   * found a row gone (see {@link StreamFence}).
   */
  private static final Duration STREAM_WAIT = Duration.ofSeconds(60);

  /** How long the job waits for the load by default: {@code --timeout}. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofHours(1);

  private final Configuration configuration;
  private final Progress progress;
  private final CountDownLatch stop;
  private final Clock clock;
  private final Duration timeout;

  /** How a resync ended. */
  public enum Outcome {
    /** The rows are loaded and the orphan keys removed. */
    DONE,
    /** Stopped waiting (Ctrl-C) before the load was done. */
    STOPPED,
    /** The load was not done within the timeout. */
    TIMED_OUT
  }

  /**
   * What a resync did.
   *
   * @param detail what is left to do when not done (empty when done)
   */
  public record Result(
      Outcome outcome,
      Map<TableId, Long> rowsLoaded,
      long orphansRemoved,
      Duration took,
      String detail) {
    public boolean completed() {
      return outcome == Outcome.DONE;
    }
  }

  /** Waits for the load at most {@link #DEFAULT_TIMEOUT}. */
  public Resync(Configuration configuration, Progress progress, CountDownLatch stop, Clock clock) {
    this(configuration, progress, stop, clock, DEFAULT_TIMEOUT);
  }

  /**
   * @param stop counted down to stop waiting (Ctrl-C); the load goes on in a running daemon
   * @param timeout how long to wait for the load; the request stays queued after it
   */
  public Resync(
      Configuration configuration,
      Progress progress,
      CountDownLatch stop,
      Clock clock,
      Duration timeout) {
    this.configuration = configuration;
    this.progress = progress;
    this.stop = stop;
    this.clock = clock;
    this.timeout = timeout;
  }

  public Result run(List<TableMapping> tables) throws Exception {
    SynchronizerSettings settings = configuration.settings();
    long started = clock.millis();
    PostgresConnector postgres = new PostgresConnector(settings.postgres());
    boolean redisWasEmpty;
    try (LettuceCacheInspector redis = LettuceCacheInspector.connect(settings.redis())) {
      redisWasEmpty = redis.keyCount() == 0;
    }
    Daemon daemon = null;
    Optional<String> writer;
    try (StateStore state =
        LettuceStateStore.connect(settings.redis(), settings.stateKeyPrefix())) {
      writer = state.writer();
    }
    if (writer.isPresent()) {
      // Also while that daemon loads every table: the request waits in Redis until it streams.
      LOG.info("A daemon holds the writer's role of {}: handing the load to it", settings.name());
    } else {
      LOG.info(
          "No daemon runs for {}: running one in this process until the load is done",
          settings.name());
      try {
        daemon = Daemon.start(configuration);
      } catch (Daemon.SlotInUseException e) {
        // The role was free a moment ago: a daemon (re)started in between.
        LOG.info(
            "A daemon took the writer's role meanwhile: handing the load to it ({})",
            e.getMessage());
      }
    }
    try (StateStore state = LettuceStateStore.connect(settings.redis(), settings.stateKeyPrefix());
        LettuceCacheInspector redis = LettuceCacheInspector.connect(settings.redis());
        Connection connection = postgres.open("resync")) {
      Map<TableId, Long> estimates = estimates(connection, tables);
      Map<TableId, Long> rows;
      Deadline deadline = new Deadline(clock.millis() + timeout.toMillis());
      if (daemon != null && daemon.loadsEverything()) {
        // Redis holds nothing for this synchronizer: the daemon's initial load reads every table
        // from the slot's snapshot, which is the resync; asking for another would load twice.
        LOG.info(
            "Redis holds no state for {}: the initial load of every table is the resync",
            settings.name());
        deadline.unfinished =
            "the initial load of every table stops with this job; the next daemon to run loads"
                + " every table again";
        rows = await(initialLoad(daemon), estimates, deadline);
      } else {
        String id = UUID.randomUUID().toString().substring(0, 8);
        state.submitResync(
            id, tables.stream().map(t -> t.table().toString()).collect(Collectors.toSet()));
        deadline.unfinished =
            "resync request "
                + id
                + " stays queued in Redis ("
                + settings.stateKeyPrefix()
                + "resync:"
                + id
                + "); the daemon holding the writer's role finishes it"
                + (daemon != null ? " (this job's daemon stops now: the next daemon to run)" : "");
        rows = await(queued(state, id, daemon), estimates, deadline);
      }
      Duration took = Duration.ofMillis(clock.millis() - started);
      if (rows == null) {
        return new Result(Outcome.STOPPED, Map.of(), 0, took, deadline.unfinished);
      }
      if (deadline.expired) {
        return new Result(Outcome.TIMED_OUT, rows, 0, took, deadline.unfinished);
      }
      // When Redis held no key at all as the job began, every key in it now was written by the
      // load or the stream, which evict what they must: there is no orphan to look for.
      long orphans;
      try {
        orphans =
            redisWasEmpty
                ? 0
                : removeOrphans(
                    connection,
                    redis,
                    new StreamFence(state, STREAM_WAIT, stop),
                    settings.stateKeyPrefix(),
                    tables);
      } catch (RuntimeException e) {
        boolean behind = e instanceof StreamFence.StreamBehindException;
        if (behind && stop.getCount() == 0) {
          return new Result(
              Outcome.STOPPED,
              rows,
              0,
              took,
              "every table was loaded; the keys of rows deleted meanwhile were not all removed (run"
                  + " cachesync verify --repair)");
        }
        throw new IllegalStateException(
            "every table was loaded, but the keys of rows deleted meanwhile were not all removed: "
                + e.getMessage()
                + "; run cachesync verify --repair"
                + (behind ? " once the daemon has caught up" : ""),
            e);
      }
      return new Result(
          Outcome.DONE, rows, orphans, Duration.ofMillis(clock.millis() - started), "");
    } finally {
      if (daemon != null) {
        daemon.stop();
      }
    }
  }

  /** Removes the keys under each table's prefix whose row does not exist; returns how many. */
  private static long removeOrphans(
      Connection connection,
      LettuceCacheInspector redis,
      StreamFence stream,
      String stateKeyPrefix,
      List<TableMapping> tables) {
    long orphans = 0;
    OrphanSweeper sweeper = new OrphanSweeper(connection, redis);
    for (TableMapping table : tables) {
      long[] removed = {0};
      sweeper.find(
          table,
          stream,
          (found, fence) -> removed[0] += redis.evictBehindTheStream(found, stateKeyPrefix, fence));
      if (removed[0] > 0) {
        LOG.info("Removed {} orphan keys of {}", removed[0], table.table());
      }
      orphans += removed[0];
    }
    return orphans;
  }

  /** Where a load's progress is read from, and how its end and a failure show. */
  private interface LoadWatch {
    /** Reads the load's state; the other methods answer from what was read. */
    void refresh() throws Exception;

    boolean done();

    /** Rows loaded so far per table; absent tables have none yet. */
    Map<TableId, Long> rows();

    /** Throws when the daemon doing the load has stopped. */
    void checkAlive() throws Exception;
  }

  /** The initial load of the daemon this job started. */
  private static LoadWatch initialLoad(Daemon daemon) {
    return new LoadWatch() {
      private boolean done;
      private Map<TableId, Long> rows = Map.of();

      @Override
      public void refresh() {
        done = daemon.initialLoad().isDone();
        rows = done ? daemon.initialLoad().join() : daemon.initialLoadProgress();
      }

      @Override
      public boolean done() {
        return done;
      }

      @Override
      public Map<TableId, Long> rows() {
        return rows;
      }

      @Override
      public void checkAlive() {
        if (daemon.terminated().isDone()) {
          throw new IllegalStateException("the daemon running the load stopped: see the log above");
        }
      }
    };
  }

  /**
   * A load queued in Redis for a daemon: this job's own, or the one holding the writer's role. The
   * request stays in Redis until done, whichever daemon holds the role then (see {@link
   * StateStore#takeResync(String)}): a daemon that stops or dies leaves it to the next.
   */
  private LoadWatch queued(StateStore state, String id, Daemon ownDaemon) {
    return new LoadWatch() {
      private Map<String, String> status = Map.of();
      private Daemon daemon = ownDaemon;
      private long lastWriterCheck = clock.millis();
      private boolean toldNoWriter;

      @Override
      public void refresh() {
        status = state.resync(id);
      }

      @Override
      public boolean done() {
        return "done".equals(status.get("status"));
      }

      @Override
      public Map<TableId, Long> rows() {
        Map<TableId, Long> rows = new LinkedHashMap<>();
        status.forEach(
            (field, value) -> {
              if (field.startsWith("rows:")) {
                rows.put(TableId.parse(field.substring("rows:".length())), Long.parseLong(value));
              }
            });
        return rows;
      }

      @Override
      public void checkAlive() {
        String key = configuration.settings().stateKeyPrefix() + "resync:" + id;
        if (status.isEmpty()) {
          throw new IllegalStateException(
              "resync request "
                  + id
                  + " is gone from Redis ("
                  + key
                  + "): Redis lost its data (flushed, restarted empty, or failed over to a replica"
                  + " without it), and the daemon loads every table again after such a loss");
        }
        if (daemon != null && daemon.terminated().isDone()) {
          LOG.warn(
              "The daemon this job ran stopped (see above); request {} stays queued for the daemon"
                  + " that holds the writer's role next",
              id);
          daemon = null;
        }
        if (daemon == null && clock.millis() - lastWriterCheck >= LOG_EVERY.toMillis()) {
          lastWriterCheck = clock.millis();
          boolean writer = state.writer().isPresent();
          if (!writer && !toldNoWriter) {
            LOG.warn(
                "No daemon holds the writer's role of {}: request {} waits in Redis until one"
                    + " runs (cachesync run)",
                configuration.settings().name(),
                id);
          }
          toldNoWriter = !writer;
        }
      }
    };
  }

  /** When waiting ends, and what is left to do then. */
  private static final class Deadline {
    private final long atMillis;
    private String unfinished = "";
    private boolean expired;

    Deadline(long atMillis) {
      this.atMillis = atMillis;
    }
  }

  /**
   * Shows the load's progress until it is done; null when stopped first; the rows so far, with the
   * deadline marked expired, when the deadline passed first.
   */
  private Map<TableId, Long> await(LoadWatch watch, Map<TableId, Long> estimates, Deadline deadline)
      throws Exception {
    long started = clock.millis();
    long lastLog = 0;
    while (true) {
      watch.refresh();
      Map<TableId, Long> rows = new LinkedHashMap<>();
      estimates.keySet().forEach(table -> rows.put(table, watch.rows().getOrDefault(table, 0L)));
      long now = clock.millis();
      if (watch.done()) {
        progress.show(rows, estimates, Duration.ofMillis(now - started), true);
        return rows;
      }
      if (now - lastLog >= (progress.interactive() ? POLL.toMillis() : LOG_EVERY.toMillis())) {
        progress.show(rows, estimates, Duration.ofMillis(now - started), false);
        lastLog = now;
      }
      if (now >= deadline.atMillis) {
        deadline.expired = true;
        return rows;
      }
      watch.checkAlive();
      if (stop.await(POLL.toMillis(), TimeUnit.MILLISECONDS)) {
        return null;
      }
    }
  }

  /** The planner's estimate of each table's rows, for the progress; -1 when never analyzed. */
  private static Map<TableId, Long> estimates(Connection connection, List<TableMapping> tables)
      throws SQLException {
    Map<TableId, Long> estimates = new LinkedHashMap<>();
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relname = ?")) {
      for (TableMapping table : tables) {
        statement.setString(1, table.table().schema());
        statement.setString(2, table.table().table());
        try (ResultSet row = statement.executeQuery()) {
          estimates.put(table.table(), row.next() ? row.getLong(1) : -1);
        }
      }
    }
    return estimates;
  }

  /**
   * Shows how a resync goes: a bar per table on a terminal, a log line every few seconds elsewhere.
   */
  public static final class Progress {
    private final PrintWriter out;
    private final boolean interactive;
    private final boolean quiet;
    private int linesDrawn;

    public Progress(PrintWriter out, boolean interactive, boolean quiet) {
      this.out = out;
      this.interactive = interactive;
      this.quiet = quiet;
    }

    boolean interactive() {
      return interactive && !quiet;
    }

    void show(
        Map<TableId, Long> rows, Map<TableId, Long> estimates, Duration elapsed, boolean done) {
      if (quiet) {
        return;
      }
      long total = rows.values().stream().mapToLong(Long::longValue).sum();
      double seconds = Math.max(elapsed.toMillis() / 1000.0, 0.001);
      if (!interactive) {
        String line =
            rows.entrySet().stream()
                .map(
                    e ->
                        e.getKey() + " " + e.getValue() + "/" + estimate(estimates.get(e.getKey())))
                .collect(Collectors.joining(", "));
        LOG.info(
            "Resync {}: {} rows ({} rows/s): {}",
            done ? "done" : "running",
            total,
            Math.round(total / seconds),
            line);
        return;
      }
      if (linesDrawn > 0) {
        out.print("\u001b[" + linesDrawn + "A");
      }
      int width = rows.keySet().stream().mapToInt(t -> t.toString().length()).max().orElse(10);
      for (Map.Entry<TableId, Long> entry : rows.entrySet()) {
        long loaded = entry.getValue();
        long expected = estimates.get(entry.getKey());
        double fraction = expected > 0 ? Math.min(1.0, (double) loaded / expected) : 0;
        if (done) {
          fraction = 1.0;
        }
        int filled = (int) Math.round(fraction * 30);
        double rate = loaded / seconds;
        String eta =
            expected > 0 && rate > 0 && !done
                ? ", ETA " + Math.max(0, Math.round((expected - loaded) / rate)) + "s"
                : "";
        out.printf(
            "\u001b[2K%-" + width + "s [%s%s] %,d/%s rows, %,d rows/s%s%n",
            entry.getKey(),
            "#".repeat(filled),
            "-".repeat(30 - filled),
            loaded,
            estimate(expected),
            Math.round(rate),
            eta);
      }
      linesDrawn = rows.size();
      out.flush();
    }

    private static String estimate(long expected) {
      return expected >= 0 ? String.format("%,d", expected) : "?";
    }
  }

  /** For callers that must name the tables: every mapped table when none is given. */
  public static List<TableMapping> select(Configuration configuration, List<String> names) {
    if (names.isEmpty()) {
      return configuration.mapping().tables();
    }
    Set<String> wanted = Set.copyOf(names);
    List<TableMapping> selected =
        configuration.mapping().tables().stream()
            .filter(t -> wanted.contains(t.table().toString()))
            .toList();
    Set<String> known =
        configuration.mapping().tables().stream()
            .map(t -> t.table().toString())
            .collect(Collectors.toSet());
    for (String name : names) {
      if (!known.contains(name)) {
        throw new IllegalArgumentException(
            "table "
                + name
                + " is not mapped (mapped: "
                + String.join(", ", new java.util.TreeSet<>(known))
                + ")");
      }
    }
    return selected;
  }
}
