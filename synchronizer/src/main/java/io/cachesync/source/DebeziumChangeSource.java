package io.cachesync.source;

import io.cachesync.config.Configuration;
import io.cachesync.config.PostgresSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.state.StateStore;
import io.cachesync.sync.ChangeSink;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded Debezium PostgreSQL connector ({@code pgoutput}), tuned for a cache: it hands each
 * batch to the {@link ChangeSink} and marks its records processed only after the sink returned, so
 * that offsets, and the slot's confirmed position, never pass unapplied changes.
 */
public final class DebeziumChangeSource implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DebeziumChangeSource.class);

  private final DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
  private final ExecutorService executor;
  private final CompletableFuture<Void> finished = new CompletableFuture<>();
  private final String name;
  private final String storeId;
  private final String notificationTopic;
  private final RecordDecoder decoder;
  private final ChangeSink sink;

  private final LoadRequest.Listener loadListener;
  private final SignalTable signals;
  private final Queue<LoadRequest> pendingLoads = new ConcurrentLinkedQueue<>();
  private final ChunkWindows windows;
  private final ChunkedLoads chunkedLoads;
  private final ChunkRowWriter chunkRows;

  /** The id of the last change's transaction; Debezium's thread only. */
  private long lastTransaction = -1;

  /** The load being run by Debezium, and its rows so far; touched by Debezium's thread only. */
  private LoadRequest runningLoad;

  private final Map<TableId, Long> rowsLoaded = new HashMap<>();
  private final Map<TableId, Long> initialRows = new java.util.concurrent.ConcurrentHashMap<>();
  private final InitialLoadWatch initialLoad = new InitialLoadWatch();

  /** How long closing waits for the batch in hand. */
  private static final Duration BATCH_GRACE = Duration.ofSeconds(4);

  private final ReentrantLock batchLock = new ReentrantLock();
  private volatile boolean closing;

  /** Counted down as {@link #closing} is set: ends an engine start that waits for Redis. */
  private final java.util.concurrent.CountDownLatch closingLatch =
      new java.util.concurrent.CountDownLatch(1);

  /**
   * @param loadListener hears how the load requests (tables added to the mapping, resync) go
   * @param chunkRows writes the rows of a load's chunk at its high watermark
   */
  public DebeziumChangeSource(
      Configuration configuration,
      StateStore state,
      String epoch,
      Runnable onStateLost,
      ChangeSink sink,
      Optional<Version> resumedFrom,
      LoadRequest.Listener loadListener,
      ChunkRowWriter chunkRows) {
    this.chunkRows = chunkRows;
    this.name = configuration.settings().name();
    this.notificationTopic = topicPrefix(configuration.settings()) + ".notifications";
    this.decoder = new RecordDecoder(resumedFrom);
    this.sink = sink;
    this.loadListener = loadListener;
    this.signals =
        new SignalTable(
            new PostgresConnector(configuration.settings().postgres()),
            SignalTable.name(configuration.settings()));
    this.windows = new ChunkWindows(name);
    this.chunkedLoads =
        new ChunkedLoads(
            name,
            new PostgresConnector(configuration.settings().postgres()),
            configuration.mapping(),
            windows,
            loadListener,
            pendingLoads::add);
    // Keyed by a fresh id, not the name alone, so that two daemons of one name can share a JVM.
    this.storeId = name + "-" + java.util.UUID.randomUUID();
    RedisOffsetBackingStore.register(
        storeId,
        new RedisOffsetBackingStore.Registration(
            state, epoch, sink::acknowledged, onStateLost, closingLatch));
    Properties properties = properties(configuration);
    properties.setProperty(RedisOffsetBackingStore.STORE_PROPERTY, storeId);
    this.engine =
        DebeziumEngine.create(ChangeEventFormat.of(io.debezium.embedded.Connect.class))
            .using(properties)
            .notifying(
                (List<RecordChangeEvent<SourceRecord>> records,
                    DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) ->
                    handleUnlessClosing(records, committer))
            .using(
                (success, message, error) -> {
                  if (success) {
                    finished.complete(null);
                  } else {
                    finished.completeExceptionally(
                        error != null ? error : new IllegalStateException(message));
                  }
                })
            .build();
    this.executor =
        Executors.newSingleThreadExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "cachesync-debezium-" + name);
              thread.setDaemon(false);
              return thread;
            });
  }

  /**
   * Hands a batch on, unless the source is closing: then it is left unprocessed (not committed),
   * and streamed again on the next start. Closing waits for the batch in hand (see {@link
   * #close()}).
   */
  private void handleUnlessClosing(
      List<RecordChangeEvent<SourceRecord>> records,
      DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
      throws InterruptedException {
    batchLock.lock();
    try {
      if (!closing) {
        handle(records, committer);
      }
    } finally {
      batchLock.unlock();
    }
  }

  private void handle(
      List<RecordChangeEvent<SourceRecord>> records,
      DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
      throws InterruptedException {
    List<ChangeEvent> batch = new ArrayList<>(records.size());
    boolean streaming = false;
    Version idlePosition = null;
    boolean loadCompleted = false;
    boolean loadedInBatch = false;
    boolean initialLoadCompleted = false;
    for (RecordChangeEvent<SourceRecord> record : records) {
      SourceRecord sourceRecord = record.record();
      if (notificationTopic.equals(sourceRecord.topic())) {
        loadCompleted |= notificationType(sourceRecord, "Incremental Snapshot").equals("COMPLETED");
        initialLoadCompleted |=
            initialLoad.completes(notificationType(sourceRecord, "Initial Snapshot"));
        continue;
      }
      Optional<ChangeEvent> event = decoder.decode(sourceRecord);
      if (event.isPresent()) {
        long transaction = transactionId(sourceRecord);
        if (transaction != lastTransaction) {
          // A new transaction: its id, for the windows' check of what a chunk's snapshot missed.
          lastTransaction = transaction;
          windows.decoded(transaction);
        }
        if (windows.anyOpen()) {
          windows.observe(event.get());
        }
      }
      event.ifPresent(batch::add);
      if (event.isPresent() && event.get().kind() == ChangeEvent.Kind.SNAPSHOT) {
        if (runningLoad != null) {
          rowsLoaded.merge(event.get().table(), 1L, Long::sum);
          loadedInBatch = true;
        } else {
          initialRows.merge(event.get().table(), 1L, Long::sum);
          initialLoad.rowApplied();
        }
      }
      if (event.isEmpty()) {
        Optional<Version> position = decoder.position(sourceRecord);
        if (position.isPresent()) {
          idlePosition = position.get();
          ChunkWindows.Chunk chunk = watermark(sourceRecord, position.get());
          if (chunk != null) {
            // What came before the high watermark first, then the chunk's rows at its version.
            flush(batch, idlePosition);
            batch.clear();
            if (chunk.unsure() != null) {
              // A change inside its window left its key missing: read again, not left to the
              // stream.
              windows.forget(chunk);
              chunk.applied.completeExceptionally(new IllegalStateException(chunk.unsure()));
            } else {
              List<ChangeEvent> rows = chunk.events();
              try {
                chunkRows.write(rows, position.get());
                chunk.applied.complete(
                    new ChunkWindows.Applied(rows.size(), chunk.rowsRead() - rows.size()));
              } catch (ChunkRowWriter.ChunkLostException e) {
                chunk.applied.completeExceptionally(e);
              }
            }
          }
        }
      }
      streaming |= event.isEmpty() || event.get().kind() != ChangeEvent.Kind.SNAPSHOT;
    }
    flush(batch, idlePosition);
    for (RecordChangeEvent<SourceRecord> record : records) {
      committer.markProcessed(record);
    }
    committer.markBatchFinished();
    if (initialLoadCompleted) {
      LOG.info("Initial load done: {} rows", initialRows);
      loadListener.initialLoadCompleted(Map.copyOf(initialRows));
    }
    if (runningLoad != null) {
      if (loadCompleted) {
        LOG.info("Load {} of {} done: {} rows", runningLoad.id(), runningLoad.tables(), rowsLoaded);
        loadListener.completed(runningLoad, Map.copyOf(rowsLoaded));
        runningLoad = null;
      } else if (loadedInBatch) {
        loadListener.progress(runningLoad, Map.copyOf(rowsLoaded));
      }
    }
    if (streaming && runningLoad == null && !pendingLoads.isEmpty()) {
      startLoad(pendingLoads.poll());
    }
  }

  /**
   * Applies the changes of a batch, or moves the position to {@code idlePosition} (a message's)
   * when that is further along.
   */
  private void flush(List<ChangeEvent> batch, Version idlePosition) throws InterruptedException {
    if (!batch.isEmpty()) {
      Version last = batch.get(batch.size() - 1).version();
      sink.accept(
          batch, idlePosition != null && idlePosition.compareTo(last) > 0 ? idlePosition : last);
      windows.missed(sink.missedKeys());
    } else if (idlePosition != null) {
      sink.accept(List.of(), idlePosition);
    }
  }

  /** The transaction id Debezium gives a change record; -1 when it gives none. */
  private static long transactionId(SourceRecord record) {
    if (!(record.value() instanceof Struct value)) {
      return -1;
    }
    Struct source = value.getStruct("source");
    if (source == null || source.schema().field("txId") == null) {
      return -1;
    }
    Long id = source.getInt64("txId");
    return id == null ? -1 : id;
  }

  /** The chunk a watermark message closes, if it is one of this source's high watermarks. */
  private ChunkWindows.Chunk watermark(SourceRecord record, Version position) {
    if (!(record.value() instanceof Struct value) || value.schema().field("message") == null) {
      return null;
    }
    Struct message = value.getStruct("message");
    if (message == null) {
      return null;
    }
    return windows.message(message.getString("prefix"), message.getBytes("content"), position);
  }

  /**
   * Queues a load. cachesync reads it in watermark chunks while streaming runs ({@link
   * ChunkedLoads}); before PostgreSQL 14, Debezium's incremental snapshot does, once streaming runs
   * and no other load does.
   */
  public void load(LoadRequest request) {
    loadListener.queued(request);
    chunkedLoads.submit(request);
  }

  /**
   * Asks Debezium for an incremental snapshot of the request's tables: chunks read between
   * watermarks and merged into the stream, so no row can overwrite a newer streamed change.
   */
  private void startLoad(LoadRequest request) {
    String collections =
        request.tables().stream().map(t -> "\"" + t + "\"").collect(Collectors.joining(","));
    LOG.info(
        "Load {}: loading the existing rows of {} (incremental snapshot)",
        request.id(),
        request.tables());
    runningLoad = request;
    loadListener.started(request);
    rowsLoaded.clear();
    request.tables().forEach(table -> rowsLoaded.put(table, 0L));
    signals.send(
        "cachesync-" + request.id(),
        "execute-snapshot",
        "{\"data-collections\": [" + collections + "], \"type\": \"incremental\"}");
  }

  /**
   * The type of a Debezium notification about a snapshot of the given kind (STARTED, COMPLETED,
   * ...), or "" when it is about something else.
   */
  private static String notificationType(SourceRecord record, String aggregateType) {
    if (record.value() instanceof Struct notification
        && aggregateType.equals(notification.getString("aggregate_type"))) {
      return String.valueOf(notification.getString("type"));
    }
    return "";
  }

  /** Rows of the initial (blocking) load so far, per table; readable from any thread. */
  public Map<TableId, Long> initialRows() {
    return Map.copyOf(initialRows);
  }

  /**
   * Streams after cachesync's own initial load, whose rows are at {@code loaded}: call before
   * {@link #start()}.
   */
  public void resumeAfterLoad(Version loaded) {
    decoder.resumeAfterLoad(loaded);
  }

  /** Lets go of what the constructor registered, for a source that was never started. */
  public void discard() {
    RedisOffsetBackingStore.unregister(storeId);
  }

  /** Starts the engine on its own thread. */
  public void start() {
    executor.execute(engine);
    chunkedLoads.start();
  }

  /** Completes when the engine stops: normally after {@link #close()}, exceptionally on failure. */
  public CompletableFuture<Void> finished() {
    return finished;
  }

  /**
   * Stops the engine: the batch in flight finishes and its offsets are committed.
   *
   * @throws IOException when the engine does not stop cleanly
   */
  @Override
  public void close() throws IOException {
    try {
      // Closing the engine interrupts its consumer: a batch interrupted while Redis applies it
      // would be given up although Redis may hold it. Let the batch in hand finish first; the
      // engine then commits its offsets as it stops.
      closing = true;
      closingLatch.countDown();
      chunkedLoads.close();
      if (batchLock.tryLock(BATCH_GRACE.toSeconds(), TimeUnit.SECONDS)) {
        batchLock.unlock();
      } else {
        LOG.warn("The batch in flight did not finish within {} s; stopping anyway", BATCH_GRACE);
      }
      closeEngine();
      executor.shutdown();
      if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warn("Debezium did not stop within 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      RedisOffsetBackingStore.unregister(storeId);
    }
  }

  /**
   * Closes the engine. Debezium's engine refuses to stop while its task is still starting ("Cannot
   * stop engine while tasks are starting"), and would then go on running, holding the replication
   * slot, after the daemon stopped; it offers no event for "started", so the close is tried again
   * until the task has started, for as long as a start can take (a connection's login timeout).
   */
  private void closeEngine() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        engine.close();
        return;
      } catch (IllegalStateException e) {
        if (System.nanoTime() > deadline
            || !String.valueOf(e.getMessage()).contains("tasks are starting")) {
          throw e;
        }
        TimeUnit.MILLISECONDS.sleep(50); // retry pace while Debezium's task finishes starting
      }
    }
  }

  /**
   * Why Debezium cannot be given these settings safely, if it cannot: Debezium 3.6 builds its JDBC
   * URL by pasting {@code database.hostname}, {@code database.port} and {@code database.dbname}
   * into {@code jdbc:postgresql://HOST:PORT/DBNAME}, and the driver reads what follows a {@code ?}
   * as connection properties and decodes {@code %} escapes. (cachesync's own connections pass these
   * as properties, see {@link PostgresConnector}.) The password is passed as a property, and
   * Debezium masks every property whose name holds "password" when it logs its configuration.
   */
  public static Optional<String> urlProblem(PostgresSettings postgres) {
    for (char c : new char[] {'?', '%'}) {
      if (postgres.database().indexOf(c) >= 0) {
        return Optional.of(
            "the database name '"
                + postgres.database()
                + "' holds '"
                + c
                + "', which Debezium's JDBC URL would read as "
                + (c == '?' ? "the start of driver properties" : "an escape")
                + "; streaming cannot start safely: rename the database"
                + " (ALTER DATABASE ... RENAME TO ...) to a name without '?' or '%'");
      }
    }
    for (char c : new char[] {'/', '?', '#', '%', '@'}) {
      if (postgres.host().indexOf(c) >= 0) {
        return Optional.of(
            "the host '" + postgres.host() + "' holds '" + c + "', which no host name holds");
      }
    }
    return Optional.empty();
  }

  /** The engine and connector settings; every one that differs from Debezium's default says why. */
  public static Properties properties(Configuration configuration) {
    SynchronizerSettings settings = configuration.settings();
    PostgresSettings postgres = settings.postgres();
    Properties p = new Properties();
    p.setProperty("name", "cachesync-" + settings.name());
    p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    p.setProperty("topic.prefix", topicPrefix(settings));
    // Offsets live in Redis next to the data (see StateStore); flushed often so that the slot's
    // confirmed position follows closely and PostgreSQL can recycle WAL.
    p.setProperty("offset.storage", RedisOffsetBackingStore.class.getName());
    p.setProperty(RedisOffsetBackingStore.STORE_PROPERTY, settings.name());
    p.setProperty("offset.flush.interval.ms", "1000");
    p.setProperty("offset.flush.timeout.ms", "10000");

    urlProblem(postgres)
        .ifPresent(
            problem -> {
              throw new IllegalArgumentException(problem);
            });
    p.setProperty("database.hostname", postgres.host());
    p.setProperty("database.port", Integer.toString(postgres.port()));
    p.setProperty("database.user", postgres.user());
    postgres.password().ifPresent(password -> p.setProperty("database.password", password));
    p.setProperty("database.dbname", postgres.database());
    p.setProperty("database.applicationName", "cachesync " + settings.name());
    // TLS as cachesync's own connections: Debezium hands every database.* property to pgjdbc, for
    // its JDBC connections and its replication connection alike (getJdbcConfig()).
    PostgresTlsSocketFactory.driverProperties(postgres.tls())
        .forEach((key, value) -> p.setProperty("database." + key, value));

    p.setProperty("plugin.name", "pgoutput");
    p.setProperty("slot.name", settings.slotName());
    p.setProperty("publication.name", settings.publicationName());
    // cachesync manages the publication of the mapped tables (Publications): FOR ALL TABLES would
    // make UPDATE and DELETE fail on every table without a replica identity.
    p.setProperty("publication.autocreate.mode", "disabled");
    // Incremental snapshots (tables added to the mapping, resync) are asked for through the signal
    // table: the request travels in the WAL and is handled by the streaming thread, in order.
    // (Signals from another channel, with read.only=true, race the streaming thread in Debezium 3.6
    // and fail a snapshot under write load.)
    p.setProperty("signal.enabled.channels", "source");
    p.setProperty("signal.data.collection", SignalTable.name(settings));
    p.setProperty("notification.enabled.channels", "sink");
    p.setProperty("notification.sink.topic.name", topicPrefix(settings) + ".notifications");
    p.setProperty(
        "table.include.list",
        configuration.mapping().tables().stream()
            .map(TableMapping::table)
            .map(t -> quote(t.schema()) + "\\." + quote(t.table()))
            .collect(Collectors.joining(",")));
    // cachesync loads the tables itself, in the slot's exported snapshot (InitialLoad), and
    // creates the slot for it; Debezium streams from the slot's consistent point.
    p.setProperty("snapshot.mode", "no_data");
    // TRUNCATE is skipped by default; a cache must evict the table's keys.
    p.setProperty("skipped.operations", "none");
    p.setProperty("tombstones.on.delete", "false");

    // Exact text forms (README, value encoding).
    p.setProperty("decimal.handling.mode", "string");
    // bytea goes through UnchangedToastConverter; in bytes mode a type Debezium does not know
    // arrives as the bytes of PostgreSQL's text, which RecordDecoder takes as text.
    p.setProperty("binary.handling.mode", "bytes");
    // The source type in each field's schema parameters: numeric's special values (RecordDecoder).
    p.setProperty("column.propagate.source.type", ".*");
    // Every array, bit string and bytea, the geometric and vector types (domains over them too):
    // Debezium would send most arrays and bit strings as NULL when unchanged and TOASTed, garbles
    // arrays of more than one dimension, and gives geometric values in its own forms
    // (UnchangedToastConverter).
    p.setProperty("converters", "cachesync_arrays");
    p.setProperty("cachesync_arrays.type", UnchangedToastConverter.class.getName());
    p.setProperty("time.precision.mode", "adaptive_time_microseconds");
    p.setProperty("hstore.handling.mode", "json");
    p.setProperty("interval.handling.mode", "string");
    p.setProperty("include.unknown.datatypes", "true");
    p.setProperty("unavailable.value.placeholder", RecordDecoder.UNAVAILABLE);

    // Debezium's lag statistics (its JMX MilliSecondsBehindSource percentiles), which cachesync
    // does not read: without them its MeasurementCollector thread drops each event's lag instead
    // of adding it to a sketch. (Its LastEvent rendering has no such switch in 3.6.)
    p.setProperty("statistics.metrics.enabled", "false");
    // Latency: the defaults wait up to 500 ms for a batch to fill.
    p.setProperty("poll.interval.ms", "5");
    // Small batches and a short queue: whenever cachesync is behind (catch-up, a load), the queue
    // is
    // full, and every record in it survives each young collection and is copied. With 2,048-record
    // batches and an 8,192-record (64 MB) queue, a 1,000,000-row load under -Xmx256m spent 10 of
    // its 30 s in young-collection pauses (33,700 rows/s); with these, 2.3 of 21 s (47,000 rows/s).
    // The JDBC fetch of an initial load is bounded for the same reason.
    p.setProperty("max.batch.size", "1024");
    p.setProperty("max.queue.size", "2048");
    p.setProperty("max.queue.size.in.bytes", Long.toString(4L * 1024 * 1024));
    p.setProperty("snapshot.fetch.size", "2048");
    // Heartbeats let the slot advance while the mapped tables are idle but the database is not:
    // each emits a logical decoding message, which writes no table. It is transactional: a
    // non-transactional message carries no transaction id, which Debezium 3.6's read-only
    // incremental snapshots failed on.
    p.setProperty("heartbeat.interval.ms", "10000");
    // Debezium opens the replication stream, closes it and opens it again when it resumes; the
    // first walsender may not have released the slot yet ("replication slot ... is active"), and
    // the default 10 s between tries stalled about one restart in four. Short tries, the same
    // minute in all.
    p.setProperty("slot.retry.delay.ms", "250");
    p.setProperty("slot.max.retries", "240");
    p.setProperty(
        "heartbeat.action.query",
        "SELECT pg_logical_emit_message(true, 'cachesync_heartbeat', '')");
    // Retry PostgreSQL connection failures for ever, with Debezium's backoff.
    p.setProperty("errors.max.retries", "-1");
    p.setProperty("errors.retry.delay.initial.ms", "300");
    p.setProperty("errors.retry.delay.max.ms", "10000");
    return p;
  }

  private static String topicPrefix(SynchronizerSettings settings) {
    return "cachesync_" + settings.name();
  }

  /** Escapes a plain identifier for Debezium's table.include.list, which holds regexes. */
  private static String quote(String identifier) {
    return identifier.replace("$", "\\$");
  }
}
