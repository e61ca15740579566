package io.cachesync.load;

import io.cachesync.ServerUnreachableException;
import io.cachesync.job.JdbcRowEncoder;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangePlanner;
import io.cachesync.model.DisplayText;
import io.cachesync.model.Mapping;
import io.cachesync.model.Row;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.redis.BulkLoadWriter;
import io.cachesync.source.ExportedSnapshot;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.SqlIdentifier;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The initial load: every mapped table read in the replication slot's exported snapshot, over
 * several connections at once, and written to Redis through {@link BulkLoadWriter}'s lanes.
 *
 * <p>Each table is split into ranges of heap pages ({@code ctid} ranges, which PostgreSQL 14 and
 * later read with a TID range scan, touching only those pages); the readers take ranges from one
 * queue, so a large table is read by every reader and small tables do not wait for it. Each reader
 * holds one batch being built and one in flight, so memory does not grow with the tables.
 *
 * <p>Every row is written at {@link Version#snapshot(long) (consistent point, 0)}: above every
 * change committed before the snapshot, below every change streamed after it. The rows go through
 * the same planner, encoder and key template as streamed changes, so a loaded row's value is the
 * value its next change would write.
 */
public final class InitialLoad {
  private static final Logger LOG = LoggerFactory.getLogger(InitialLoad.class);

  /**
   * Pages per range: 8 MB of heap, a few seconds of reading at most. The property is for the tests,
   * which split small tables into many ranges.
   */
  static final long PAGES_PER_RANGE = Long.getLong("cachesync.loadPagesPerRange", 1024);

  /** Rows between two updates of the progress, and checks for a stop. */
  private static final int COUNT_EVERY = 1000;

  /** How many rows a reader fetches at a time from its cursor. */
  private static final int FETCH_ROWS = 1000;

  /** The readers by default: one per core, at least 2 and at most 4 (PostgreSQL reads too). */
  public static int defaultReaders() {
    return Integer.getInteger(
        "cachesync.loadReaders",
        Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors())));
  }

  private final PostgresConnector postgres;
  private final Mapping mapping;
  private final BulkLoadWriter writer;
  private final int readers;
  private final BiConsumer<TableId, Long> rowsLoaded;
  private final Map<TableId, LongAdder> rows = new ConcurrentHashMap<>();
  private final AtomicReference<Exception> failure = new AtomicReference<>();
  private volatile boolean stopped;

  /**
   * @param rowsLoaded told, from the readers' threads, of the rows each transaction loaded
   */
  public InitialLoad(
      PostgresConnector postgres,
      Mapping mapping,
      BulkLoadWriter writer,
      int readers,
      BiConsumer<TableId, Long> rowsLoaded) {
    this.postgres = postgres;
    this.mapping = mapping;
    this.writer = writer;
    this.readers = readers;
    this.rowsLoaded = rowsLoaded;
    mapping.tables().forEach(t -> rows.put(t.table(), new LongAdder()));
  }

  /** What the load did. */
  public record Result(Map<TableId, Long> rows, long written, long evicted, long refused) {}

  /**
   * Loads every mapped table in {@code snapshot}. Returns when every row is in Redis (acknowledged
   * by the master), or throws the first failure of any reader.
   *
   * @throws InterruptedException when {@link #stop()} was called before the load was done
   */
  public Result run(ExportedSnapshot snapshot) throws Exception {
    Version version = Version.snapshot(snapshot.consistentPoint());
    Queue<Range> ranges = new ConcurrentLinkedQueue<>(ranges(snapshot));
    LOG.info(
        "Initial load: {} tables in {} ranges, {} readers, snapshot {} at {}",
        mapping.tables().size(),
        ranges.size(),
        readers,
        snapshot.name(),
        Version.lsnText(snapshot.consistentPoint()));
    List<Reader> started = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    // Every reader adopts the snapshot before any starts reading: the snapshot lives only while
    // the slot's connection is idle, which it stays until the load is done.
    for (int i = 0; i < readers; i++) {
      Connection connection = postgres.open("initial load " + (i + 1));
      try {
        snapshot.adopt(connection);
      } catch (SQLException e) {
        connection.close();
        started.forEach(Reader::closeQuietly);
        throw e;
      }
      started.add(new Reader(connection, ranges, version));
    }
    for (int i = 0; i < started.size(); i++) {
      Thread thread = new Thread(started.get(i), "cachesync-load-" + (i + 1));
      thread.setDaemon(true);
      threads.add(thread);
      thread.start();
    }
    try {
      for (Thread thread : threads) {
        thread.join();
      }
    } catch (InterruptedException e) {
      stop();
      for (Thread thread : threads) {
        thread.join();
      }
      throw e;
    }
    if (failure.get() != null) {
      throw failure.get();
    }
    if (stopped) {
      throw new InterruptedException("the initial load was stopped");
    }
    long written = 0;
    long evicted = 0;
    long refused = 0;
    for (Reader reader : started) {
      written += reader.counts.written();
      evicted += reader.counts.evicted();
      refused += reader.refused + reader.counts.failures().size();
    }
    return new Result(rowsSoFar(), written, evicted, refused);
  }

  /** Rows loaded so far, per table. */
  public Map<TableId, Long> rowsSoFar() {
    Map<TableId, Long> copy = new TreeMap<>(java.util.Comparator.comparing(TableId::toString));
    rows.forEach((table, count) -> copy.put(table, count.sum()));
    return copy;
  }

  /** Makes the readers stop after their current batch; {@link #run} then throws. */
  public void stop() {
    stopped = true;
    writer.stop();
  }

  /** A part of a table: the rows whose ctid lies in [from, to) pages; to < 0 for no end. */
  record Range(TableMapping table, long from, long to) {
    String sql() {
      return SqlIdentifier.pageRangeQuery(table.table(), from, to);
    }
  }

  /**
   * The ranges of every mapped table. A table's size is read once the snapshot exists: the pages
   * that hold the snapshot's rows existed then (VACUUM cannot remove rows a snapshot still sees),
   * and the last range has no end, so rows are neither missed nor read twice. Before PostgreSQL 14
   * a ctid range is read with a full scan, so each table is one range there.
   */
  private List<Range> ranges(ExportedSnapshot snapshot)
      throws SQLException, ServerUnreachableException {
    List<Range> ranges = new ArrayList<>();
    try (Connection connection = postgres.openForShortStatements("initial load sizes")) {
      boolean tidRangeScans;
      try (Statement statement = connection.createStatement();
          ResultSet version = statement.executeQuery("SHOW server_version_num")) {
        version.next();
        tidRangeScans = Integer.parseInt(version.getString(1)) >= 140000;
      }
      try (PreparedStatement pages =
          connection.prepareStatement(
              "SELECT c.relkind, pg_catalog.pg_relation_size(c.oid)"
                  + " / pg_catalog.current_setting('block_size')::bigint"
                  + " FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(?)")) {
        // Largest tables first, so that the small ones fill the gaps at the end.
        List<Map.Entry<TableMapping, Long>> sized = new ArrayList<>();
        for (TableMapping table : mapping.tables()) {
          pages.setString(1, SqlIdentifier.quoted(table.table()));
          long count = 0;
          try (ResultSet row = pages.executeQuery()) {
            if (row.next() && "r".equals(row.getString(1))) {
              count = row.getLong(2);
            }
          }
          sized.add(Map.entry(table, count));
        }
        sized.sort(Map.Entry.<TableMapping, Long>comparingByValue().reversed());
        for (Map.Entry<TableMapping, Long> table : sized) {
          long count = tidRangeScans ? table.getValue() : 0;
          long from = 0;
          while (from + PAGES_PER_RANGE < count) {
            ranges.add(new Range(table.getKey(), from, from + PAGES_PER_RANGE));
            from += PAGES_PER_RANGE;
          }
          ranges.add(new Range(table.getKey(), from, -1));
        }
      }
    }
    return ranges;
  }

  /** Reads ranges in the snapshot and sends their rows down its own lane. */
  private final class Reader implements Runnable {
    private final Connection connection;
    private final Queue<Range> ranges;
    private final Version version;
    private final ChangePlanner planner = new ChangePlanner(mapping);
    private BulkLoadWriter.Counts counts = new BulkLoadWriter.Counts(0, 0, List.of());
    private long refused;

    Reader(Connection connection, Queue<Range> ranges, Version version) {
      this.connection = connection;
      this.ranges = ranges;
      this.version = version;
    }

    @Override
    public void run() {
      try (BulkLoadWriter.Lane lane = writer.lane()) {
        Range range;
        while (!stopped && failure.get() == null && (range = ranges.poll()) != null) {
          read(range, lane);
        }
        counts = lane.drain();
        counts.failures().forEach(f -> LOG.warn("Initial load: {}", f));
        connection.commit();
      } catch (Exception e) {
        if (!stopped && failure.compareAndSet(null, e)) {
          LOG.debug("Initial load reader failed", e);
        }
      } finally {
        closeQuietly();
      }
    }

    private void read(Range range, BulkLoadWriter.Lane lane) throws SQLException {
      TableId table = range.table().table();
      LongAdder tableRows = rows.get(table);
      long counted = 0;
      try (PreparedStatement statement = connection.prepareStatement(range.sql())) {
        statement.setFetchSize(FETCH_ROWS);
        try (ResultSet result = statement.executeQuery()) {
          JdbcRowEncoder.Columns columns = JdbcRowEncoder.columns(result);
          while (result.next()) {
            Row row = columns.encode(result);
            for (CacheOperation operation :
                planner.plan(
                    new ChangeEvent(table, ChangeEvent.Kind.SNAPSHOT, Row.EMPTY, row, version))) {
              if (operation instanceof CacheOperation.Reject reject) {
                refused++;
                LOG.warn("Cannot cache a row of {}: {}", table, reject.reason());
              } else {
                lane.add(operation);
              }
            }
            // Counted as added: the lane waits for them before its next batch, and the load's end
            // for all of them.
            if (++counted == COUNT_EVERY) {
              count(table, tableRows, counted);
              counted = 0;
              if (stopped || failure.get() != null) {
                return;
              }
            }
          }
        }
      }
      count(table, tableRows, counted);
    }

    private void count(TableId table, LongAdder tableRows, long counted) {
      if (counted > 0) {
        tableRows.add(counted);
        rowsLoaded.accept(table, counted);
      }
    }

    void closeQuietly() {
      try {
        connection.close();
      } catch (SQLException e) {
        LOG.debug("Closing a reader's connection failed: {}", DisplayText.of(e.getMessage()));
      }
    }
  }
}
