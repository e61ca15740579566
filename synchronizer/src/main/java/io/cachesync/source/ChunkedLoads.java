package io.cachesync.source;

import io.cachesync.ServerUnreachableException;
import io.cachesync.job.JdbcRowEncoder;
import io.cachesync.model.DisplayText;
import io.cachesync.model.Mapping;
import io.cachesync.model.Row;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the existing rows of tables while the stream runs (resync, tables added to the mapping):
 * cachesync's own watermark chunks ({@link ChunkWindows}), one request at a time, on a thread of
 * its own.
 *
 * <p>Each table is read in chunks of heap pages ({@code ctid} ranges, a TID range scan), each
 * between its low and high watermark, on one connection in autocommit, so that every statement sees
 * what committed before it. Up to {@link #IN_FLIGHT} chunks are read ahead of the stream: the next
 * chunk is read while the stream applies the last one. A chunk's rows are counted once Redis
 * acknowledged them.
 *
 * <p>Before PostgreSQL 14, whose {@code pgoutput} does not send logical decoding messages and which
 * reads a {@code ctid} range with a full scan, requests go to Debezium's incremental snapshot
 * instead (the {@code fallback}).
 */
final class ChunkedLoads implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkedLoads.class);

  /**
   * Rows a chunk aims at by default; a chunk is a whole number of pages, so it holds about as many.
   * The property {@code cachesync.resyncChunkRows} is for the tests, which race many small chunks.
   */
  static final int CHUNK_ROWS = 2048;

  /** Chunks a reader has read and not yet seen applied, at most. */
  private static final int IN_FLIGHT = 3;

  /**
   * Readers of one request, each on its own connection. Memory is about {@code READERS x IN_FLIGHT}
   * chunks of rows.
   */
  private static final int READERS = 2;

  /** Pages per chunk when the table's statistics give no density (never analyzed). */
  private static final int ROWS_PER_PAGE_UNKNOWN = 60;

  private static final long RETRY_MILLIS = 1000;

  private static final long REQUEST_RETRY_SECONDS = 5;

  /**
   * How long a chunk waits for transactions that were in progress when this daemon's loads began
   * and that its snapshot missed: one committed before (decoded by an earlier daemon) becomes
   * visible within moments; one still running after this is taken for running.
   */
  private static final long SUSPECT_WAIT_MILLIS = 30_000;

  private final PostgresConnector postgres;
  private final Map<TableId, TableMapping> tables = new java.util.HashMap<>();
  private final ChunkWindows windows;
  private final LoadRequest.Listener listener;
  private final Consumer<LoadRequest> fallback;
  private final BlockingDeque<LoadRequest> requests = new LinkedBlockingDeque<>();
  private final CountDownLatch stopping = new CountDownLatch(1);
  private final Thread thread;

  /** The runner's own reader: sizes, the server's version, and one share of the chunks. */
  private final Reader main = new Reader();

  private Boolean supported;

  /** Whether the transactions in progress as the first load began were noted (runner's thread). */
  private boolean suspected;

  private final int chunkRows = Integer.getInteger("cachesync.resyncChunkRows", CHUNK_ROWS);

  /**
   * @param fallback takes the requests this server cannot serve (before PostgreSQL 14)
   */
  ChunkedLoads(
      String name,
      PostgresConnector postgres,
      Mapping mapping,
      ChunkWindows windows,
      LoadRequest.Listener listener,
      Consumer<LoadRequest> fallback) {
    this.postgres = postgres;
    mapping.tables().forEach(table -> tables.put(table.table(), table));
    this.windows = windows;
    this.listener = listener;
    this.fallback = fallback;
    this.thread = new Thread(this::run, "cachesync-resync-" + name);
    thread.setDaemon(true);
  }

  /** Queues a request; it runs once those before it are done. */
  void submit(LoadRequest request) {
    requests.add(request);
  }

  void start() {
    thread.start();
  }

  /** Stops after the current statement; a request not done stays taken for the next daemon. */
  @Override
  public void close() {
    stopping.countDown();
    windows.abandonAll(new InterruptedException("the stream stopped"));
    thread.interrupt();
    try {
      thread.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private boolean stopped() {
    return stopping.getCount() == 0;
  }

  private void run() {
    try {
      while (!stopped()) {
        LoadRequest request = requests.poll(1, TimeUnit.SECONDS);
        if (request == null) {
          continue;
        }
        try {
          runRequest(request);
        } catch (RuntimeException e) {
          // Redis or PostgreSQL failed under the progress records (Redis restarting, say): the
          // request runs again from its start, before those queued after it.
          requests.addFirst(request);
          LOG.error(
              "Load {} failed ({}); it runs again from its start in {} s",
              request.id(),
              DisplayText.of(String.valueOf(e.getMessage())),
              REQUEST_RETRY_SECONDS,
              e);
          if (stopping.await(REQUEST_RETRY_SECONDS, TimeUnit.SECONDS)) {
            return;
          }
        }
      }
    } catch (InterruptedException e) {
      // stopping
    } finally {
      main.close();
    }
  }

  private void runRequest(LoadRequest request) throws InterruptedException {
    if (!main.supported()) {
      fallback.accept(request);
      return;
    }
    if (!suspected) {
      windows.suspect(main.inProgress());
      suspected = true;
    }
    LOG.info(
        "Load {}: loading the existing rows of {} (watermark chunks, {} readers)",
        request.id(),
        request.tables(),
        READERS);
    listener.started(request);
    long started = System.nanoTime();
    Progress progress = new Progress(request);
    Queue<Chunk> ranges = new ConcurrentLinkedQueue<>();
    for (TableId table : progress.rows.keySet()) {
      TableMapping mapping = tables.get(table);
      if (mapping == null) {
        LOG.warn("Load {}: {} is not in the mapping any more; skipped", request.id(), table);
        continue;
      }
      long[] size = main.size(mapping);
      long pages = size[0];
      long perChunk = size[1];
      long from = 0;
      while (perChunk > 0 && from + perChunk < pages) {
        ranges.add(new Chunk(mapping, from, from + perChunk, perChunk));
        from += perChunk;
      }
      // The last chunk has no end: rows the table gains meanwhile are read too.
      ranges.add(new Chunk(mapping, from, -1, perChunk));
    }
    AtomicReference<RuntimeException> failure = new AtomicReference<>();
    List<Thread> helpers = new ArrayList<>();
    List<Reader> helperReaders = new ArrayList<>();
    for (int i = 1; i < READERS; i++) {
      Reader reader = new Reader();
      helperReaders.add(reader);
      Thread helper =
          new Thread(
              () -> {
                try {
                  reader.readAll(request, ranges, progress);
                } catch (InterruptedException e) {
                  // stopping
                } catch (RuntimeException e) {
                  failure.compareAndSet(null, e);
                } finally {
                  reader.close();
                }
              },
              thread.getName() + "-" + (i + 1));
      helper.setDaemon(true);
      helpers.add(helper);
      helper.start();
    }
    try {
      main.readAll(request, ranges, progress);
    } finally {
      for (Thread helper : helpers) {
        helper.join();
      }
    }
    if (failure.get() != null) {
      throw failure.get();
    }
    if (stopped()) {
      throw new InterruptedException("stopping");
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    Map<TableId, Long> rows = progress.rows();
    long total = rows.values().stream().mapToLong(Long::longValue).sum();
    LOG.info(
        "Load {} of {} done: {} rows in {} s ({} rows/s), {} chunks, {} rows not written (left to"
            + " the stream that changed them inside their window, or of keys the load does not"
            + " write)",
        request.id(),
        request.tables(),
        rows,
        String.format("%.1f", seconds),
        seconds > 0 ? Math.round(total / seconds) : total,
        progress.chunks,
        progress.dropped);
    listener.completed(request, rows);
  }

  /** A request's rows applied so far, per table, shared by its readers. */
  private final class Progress {
    private final LoadRequest request;
    private final Map<TableId, Long> rows = new TreeMap<>(Comparator.comparing(TableId::toString));
    private long chunks;
    private long dropped;

    Progress(LoadRequest request) {
      this.request = request;
      request.tables().forEach(table -> rows.put(table, 0L));
    }

    synchronized void applied(TableId table, ChunkWindows.Applied applied) {
      rows.merge(table, (long) applied.loaded(), Long::sum);
      chunks++;
      dropped += applied.dropped();
      listener.progress(request, Map.copyOf(rows));
    }

    synchronized Map<TableId, Long> rows() {
      return Map.copyOf(rows);
    }
  }

  /** A chunk sent: its window, and the range to read again should it fail. */
  private record Sent(Chunk range, ChunkWindows.Chunk window) {}

  /**
   * A part of a table: the rows whose ctid lies in [from, to) pages; to < 0 for no end.
   *
   * @param perChunk the pages of a chunk of this table (0: the table is read whole)
   */
  private record Chunk(TableMapping table, long from, long to, long perChunk) {
    String sql() {
      return SqlIdentifier.pageRangeQuery(table.table(), from, to);
    }
  }

  /**
   * One connection reading chunks: each reader writes its chunks' watermarks and reads their rows
   * on its own connection, so the windows of two readers' chunks overlap. That is safe: a chunk's
   * rows are filtered by its own window only, and the chunks of one table hold different pages.
   */
  private final class Reader implements AutoCloseable {
    private Connection connection;

    /**
     * Reads chunks from {@code ranges} until none is left, with {@link #IN_FLIGHT} of its own read
     * ahead of the stream, and waits for the last of them.
     */
    void readAll(LoadRequest request, Queue<Chunk> ranges, Progress progress)
        throws InterruptedException {
      Deque<Sent> inFlight = new ArrayDeque<>();
      Chunk range;
      while (!stopped() && (range = ranges.poll()) != null) {
        inFlight.add(send(request, bounded(range, ranges)));
        while (inFlight.size() >= IN_FLIGHT) {
          applied(request, inFlight.poll(), progress);
        }
      }
      while (!inFlight.isEmpty()) {
        applied(request, inFlight.poll(), progress);
      }
      if (stopped()) {
        throw new InterruptedException("stopping");
      }
    }

    /**
     * The last chunk of a table, which has no end, bounded to one chunk's pages when the table has
     * grown past them since it was sized; the rest goes back to the queue, again without end.
     */
    private Chunk bounded(Chunk range, Queue<Chunk> ranges) throws InterruptedException {
      if (range.to() >= 0 || range.perChunk() == 0) {
        return range;
      }
      long pages = size(range.table())[0];
      if (range.from() + range.perChunk() >= pages) {
        return range;
      }
      long to = range.from() + range.perChunk();
      ranges.add(new Chunk(range.table(), to, -1, range.perChunk()));
      return new Chunk(range.table(), range.from(), to, range.perChunk());
    }

    /** Waits until Redis acknowledged a chunk's rows; reads it again if its window failed. */
    private void applied(LoadRequest request, Sent sent, Progress progress)
        throws InterruptedException {
      while (true) {
        try {
          ChunkWindows.Applied applied = sent.window().applied.get(1, TimeUnit.SECONDS);
          windows.forget(sent.window());
          progress.applied(sent.range().table().table(), applied);
          return;
        } catch (TimeoutException e) {
          if (stopped()) {
            throw new InterruptedException("stopping");
          }
        } catch (ExecutionException e) {
          windows.forget(sent.window());
          if (stopped()) {
            throw new InterruptedException("stopping");
          }
          if (e.getCause() instanceof ChunkWindows.CommittedUnseen unseen) {
            LOG.info(
                "Load {}: a chunk of {} is read again: {}",
                request.id(),
                sent.range().table().table(),
                unseen.getMessage());
            awaitVisible(unseen.decoded(), 0);
            List<Long> running = awaitVisible(unseen.suspected(), SUSPECT_WAIT_MILLIS);
            if (!running.isEmpty()) {
              // A committed transaction becomes visible within moments (or when its synchronous
              // standby answers); these are still running, and this daemon decodes their commit.
              LOG.info(
                  "Load {}: transactions {} are still running after {} s: their commit is yet to"
                      + " come",
                  request.id(),
                  running,
                  SUSPECT_WAIT_MILLIS / 1000);
              windows.cleared(running);
            }
            sent = send(request, sent.range());
            continue;
          }
          LOG.warn(
              "Load {}: a chunk of {} failed ({}); reading it again",
              request.id(),
              sent.range().table().table(),
              e.getCause().getMessage());
          sent = send(request, sent.range());
        }
      }
    }

    /**
     * Writes the low watermark, reads the chunk, hands its rows over and writes the high watermark;
     * retries on a lost connection until it is done or the loads stop.
     */
    private Sent send(LoadRequest request, Chunk range) throws InterruptedException {
      while (true) {
        ChunkWindows.Chunk window = windows.register(range.table(), request.keys());
        try {
          Connection c = connection();
          watermark(c, window.low());
          read(c, range, window);
          watermark(c, window.high());
          return new Sent(range, window);
        } catch (SQLException | ServerUnreachableException e) {
          windows.forget(window);
          closeConnection();
          if (stopped()) {
            throw new InterruptedException("stopping");
          }
          boolean transient_ =
              e instanceof ServerUnreachableException
                  || PostgresConnector.unavailable((SQLException) e);
          long retry = transient_ ? RETRY_MILLIS : 10 * RETRY_MILLIS;
          String message = DisplayText.of(String.valueOf(e.getMessage()));
          if (transient_) {
            LOG.warn(
                "Load {}: reading a chunk of {} failed ({}); trying again in {} ms",
                request.id(),
                range.table().table(),
                message,
                retry);
          } else {
            // The load waits rather than skip rows: the cause must be fixed (a grant, the table).
            LOG.error(
                "Load {}: cannot read {} ({}); the load waits until the cause is fixed, trying"
                    + " again in {} ms",
                request.id(),
                range.table().table(),
                message,
                retry);
          }
          if (stopping.await(retry, TimeUnit.MILLISECONDS)) {
            throw new InterruptedException("stopping");
          }
        }
      }
    }

    /**
     * Reads a chunk, and the transactions its snapshot does not see, and hands both to its window.
     *
     * <p>PostgreSQL makes a transaction visible a moment after it writes its commit record (under
     * synchronous replication, only once a standby confirmed it), so a snapshot taken after the low
     * watermark committed may miss a transaction committed before it. That transaction streams
     * before the window opens, so nothing would drop the chunk's older copy of its rows. The window
     * checks the snapshot's missed transactions against those the stream decoded before the low
     * watermark ({@link ChunkWindows.CommittedUnseen}), and the chunk is read again once they are
     * visible.
     */
    private void read(Connection c, Chunk range, ChunkWindows.Chunk window) throws SQLException {
      c.setAutoCommit(false);
      c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      try {
        List<Long> unseen = new ArrayList<>();
        // The transaction's first statement takes its snapshot; the chunk is read in the same.
        try (Statement statement = c.createStatement();
            ResultSet xids = statement.executeQuery(UNSEEN)) {
          while (xids.next()) {
            unseen.add(Long.parseLong(xids.getString(1)));
          }
        }
        List<Row> read = new ArrayList<>();
        try (PreparedStatement statement = c.prepareStatement(range.sql());
            ResultSet result = statement.executeQuery()) {
          JdbcRowEncoder.Columns columns = JdbcRowEncoder.columns(result);
          while (result.next()) {
            read.add(columns.encode(result));
          }
        }
        // Rolled back, not committed: the transaction has an id (see UNSEEN), and its commit would
        // be written and, under synchronous replication, wait for a standby.
        c.rollback();
        window.read(read, unseen);
      } finally {
        if (!c.isClosed()) {
          if (!c.getAutoCommit()) {
            c.rollback();
          }
          c.setAutoCommit(true);
          c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
        }
      }
    }

    /**
     * The transactions the transaction's snapshot does not see: those in its in-progress list and
     * those at or past its {@code xmax}. The latter are all below the id this statement then
     * assigns to its own transaction, and were all in progress when the snapshot was taken (a
     * transaction that ended would have moved {@code xmax} past it), so there are about as many as
     * there were sessions in a transaction.
     */
    private static final String UNSEEN =
        "SELECT pg_catalog.pg_snapshot_xip(pg_catalog.pg_current_snapshot())::text"
            + " UNION ALL"
            + " SELECT g::text FROM pg_catalog.generate_series("
            + "   pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot())::text::bigint,"
            + "   pg_catalog.pg_current_xact_id()::text::bigint - 1) AS g";

    /**
     * Waits until every one of {@code xids} is visible to a new snapshot, or {@code boundMillis}
     * passed (0: no bound); returns those still not visible.
     */
    private List<Long> awaitVisible(List<Long> xids, long boundMillis) throws InterruptedException {
      if (xids.isEmpty()) {
        return xids;
      }
      long since = System.nanoTime();
      long told = since;
      long pause = 1;
      while (true) {
        List<Long> invisible = new ArrayList<>();
        try (PreparedStatement statement =
            connection()
                .prepareStatement(
                    "SELECT x FROM pg_catalog.unnest(?::text[]) AS x"
                        + " WHERE NOT pg_catalog.pg_visible_in_snapshot(x::xid8,"
                        + " pg_catalog.pg_current_snapshot())")) {
          statement.setArray(
              1,
              statement
                  .getConnection()
                  .createArrayOf("text", xids.stream().map(String::valueOf).toArray()));
          try (ResultSet rows = statement.executeQuery()) {
            while (rows.next()) {
              invisible.add(Long.parseLong(rows.getString(1)));
            }
          }
        } catch (SQLException | ServerUnreachableException e) {
          retryLater("Could not check transactions " + xids, e);
          continue;
        }
        if (invisible.isEmpty()) {
          return invisible;
        }
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
        if (boundMillis > 0 && waited >= boundMillis) {
          return invisible;
        }
        if (boundMillis == 0 && System.nanoTime() - told > TimeUnit.SECONDS.toNanos(30)) {
          told = System.nanoTime();
          LOG.warn(
              "Transactions {} committed {} s ago and are still not visible (a synchronous standby"
                  + " that does not answer?); the load waits for them",
              invisible,
              waited / 1000);
        }
        // A poll of PostgreSQL's state: committed transactions become visible within moments.
        if (stopping.await(pause, TimeUnit.MILLISECONDS)) {
          throw new InterruptedException("stopping");
        }
        pause = Math.min(100, pause * 2);
      }
    }

    /** Writes a watermark into the WAL: a transactional message, committed on its own. */
    private void watermark(Connection c, String content) throws SQLException {
      try (PreparedStatement statement =
          c.prepareStatement("SELECT pg_catalog.pg_logical_emit_message(true, ?, ?)")) {
        statement.setString(1, windows.prefix());
        statement.setString(2, content);
        statement.execute();
      }
    }

    /**
     * The table's size in pages now and the pages per chunk: the pages that hold {@link
     * #CHUNK_ROWS} rows at the density of the table's statistics. {@code {pages, 0}} for a relation
     * that is not a plain table (read whole).
     */
    /** The transactions in progress now (as a snapshot misses them), 64-bit ids. */
    List<Long> inProgress() throws InterruptedException {
      while (true) {
        try {
          Connection c = connection();
          c.setAutoCommit(false);
          try (Statement statement = c.createStatement();
              ResultSet xids = statement.executeQuery(UNSEEN)) {
            List<Long> running = new ArrayList<>();
            while (xids.next()) {
              running.add(Long.parseLong(xids.getString(1)));
            }
            return running;
          } finally {
            c.rollback();
            c.setAutoCommit(true);
          }
        } catch (SQLException | ServerUnreachableException e) {
          retryLater("Could not list the transactions in progress", e);
        }
      }
    }

    private long[] size(TableMapping table) throws InterruptedException {
      while (true) {
        try (PreparedStatement statement =
            connection()
                .prepareStatement(
                    "SELECT c.relkind, pg_catalog.pg_relation_size(c.oid)"
                        + " / pg_catalog.current_setting('block_size')::bigint,"
                        + " c.reltuples, c.relpages"
                        + " FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(?)")) {
          statement.setString(1, SqlIdentifier.quoted(table.table()));
          try (ResultSet row = statement.executeQuery()) {
            if (!row.next() || !"r".equals(row.getString(1))) {
              return new long[] {0, 0};
            }
            long pages = row.getLong(2);
            double tuples = row.getDouble(3);
            long statPages = row.getLong(4);
            double density =
                tuples > 0 && statPages > 0 ? tuples / statPages : ROWS_PER_PAGE_UNKNOWN;
            long perChunk = Math.max(1, Math.round(chunkRows / Math.max(1.0, density)));
            return new long[] {pages, perChunk};
          }
        } catch (SQLException | ServerUnreachableException e) {
          retryLater("Could not read the size of " + table.table(), e);
        }
      }
    }

    /** Whether the server sends logical decoding messages to a pgoutput slot (14 and later). */
    private boolean supported() throws InterruptedException {
      while (supported == null) {
        try (Statement statement = connection().createStatement();
            ResultSet version = statement.executeQuery("SHOW server_version_num")) {
          version.next();
          supported = Integer.parseInt(version.getString(1)) >= 140000;
          if (!supported) {
            LOG.info(
                "PostgreSQL before 14 sends no logical decoding messages: loads run through"
                    + " Debezium's incremental snapshot");
          }
        } catch (SQLException | ServerUnreachableException e) {
          retryLater("Could not read PostgreSQL's version", e);
        }
      }
      return supported;
    }

    /**
     * Lets go of a connection that failed, says what could not be done, and waits {@link
     * #RETRY_MILLIS} before the caller tries again.
     *
     * @throws InterruptedException when the loads stop meanwhile
     */
    private void retryLater(String what, Exception e) throws InterruptedException {
      closeConnection();
      LOG.warn(
          "{} ({}); trying again in {} ms",
          what,
          DisplayText.of(String.valueOf(e.getMessage())),
          RETRY_MILLIS);
      if (stopping.await(RETRY_MILLIS, TimeUnit.MILLISECONDS)) {
        throw new InterruptedException("stopping");
      }
    }

    private Connection connection() throws SQLException, ServerUnreachableException {
      if (connection == null) {
        connection = postgres.open("resync");
        connection.setAutoCommit(true);
      }
      return connection;
    }

    private void closeConnection() {
      if (connection != null) {
        try {
          connection.close();
        } catch (SQLException e) {
          LOG.debug("Closing the load's connection failed: {}", e.getMessage());
        }
        connection = null;
      }
    }

    @Override
    public void close() {
      closeConnection();
    }
  }
}
