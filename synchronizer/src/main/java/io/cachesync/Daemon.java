package io.cachesync;

import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.job.OrphanSweeper;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceCacheWriter;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.source.DebeziumChangeSource;
import io.cachesync.source.LoadRequest;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.Publications;
import io.cachesync.source.RedisOffsetBackingStore;
import io.cachesync.source.ReplicationSlots;
import io.cachesync.source.SignalTable;
import io.cachesync.state.StateStore;
import io.cachesync.sync.Synchronizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The synchronizer daemon: owns the Redis connections, the state, the Debezium source and the
 * lifecycle that ties them together. Its state only moves forward, by compare-and-set, and every
 * transition is logged.
 */
public final class Daemon implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  /** How long a stop waits for the batch in flight before giving up on it (it is replayed). */
  private static final long GRACE_SECONDS = 5;

  /** How long after a failed sweep it is tried again. */
  private static final Duration SWEEP_RETRY = Duration.ofSeconds(30);

  /** The lifecycle. */
  public enum State {
    STARTING,
    RUNNING,
    STOPPING,
    STOPPED,
    FAILED
  }

  /** Why the daemon refuses to start although the setup passed the preflight. */
  public static class StartRefusedException extends Exception {
    private static final long serialVersionUID = 1L;

    StartRefusedException(String message) {
      super(message);
    }
  }

  /** Another process streams from the slot: this daemon can only stand by. */
  public static final class SlotInUseException extends StartRefusedException {
    private static final long serialVersionUID = 1L;

    SlotInUseException(String message) {
      super(message);
    }
  }

  private final AtomicReference<State> state = new AtomicReference<>(State.STARTING);
  private final Configuration configuration;
  private final LettuceCacheWriter writer;
  private final StateStore stateStore;
  private final Synchronizer synchronizer;
  private final DebeziumChangeSource source;
  private final CompletableFuture<State> terminated = new CompletableFuture<>();

  /** Completes with the rows loaded when a first start's initial load is done. */
  private final CompletableFuture<Map<TableId, Long>> initialLoad = new CompletableFuture<>();

  private boolean loadsEverything;

  /** The epoch of the state this daemon writes under (see {@link StateStore#epoch()}). */
  private String epoch;

  /** When a failed sweep may be tried again ({@link System#nanoTime()}). */
  private long nextSweep = System.nanoTime();

  /** Whether the last check found the epoch gone or changed. */
  private boolean epochMissing;

  /** Set when the daemon stopped because Redis lost its state: the caller starts a new one. */
  private final AtomicBoolean reloadNeeded = new AtomicBoolean();

  private final ScheduledExecutorService poller =
      Executors.newSingleThreadScheduledExecutor(
          runnable -> {
            Thread thread = new Thread(runnable, "cachesync-poller");
            thread.setDaemon(true);
            return thread;
          });

  private Daemon(Configuration configuration, LettuceCacheWriter writer, StateStore stateStore)
      throws Exception {
    this.configuration = configuration;
    this.writer = writer;
    this.stateStore = stateStore;
    Set<TableId> toLoad = prepareState();
    PostgresConnector postgres = new PostgresConnector(configuration.settings().postgres());
    SignalTable.ensure(postgres, configuration.settings());
    List<TableId> published =
        new ArrayList<>(
            configuration.mapping().tables().stream().map(TableMapping::table).toList());
    published.add(TableId.parse(SignalTable.name(configuration.settings())));
    new Publications(postgres).ensure(configuration.settings().publicationName(), published);
    Optional<Version> resumedFrom = writer.position();
    resumedFrom.ifPresent(
        position ->
            LOG.info(
                "Redis holds the stream up to {}; changes Debezium streams again up to there are"
                    + " skipped",
                position));
    this.synchronizer =
        new Synchronizer(
            configuration.mapping(),
            writer,
            resumedFrom,
            rolledBack ->
                stateLostOr(
                    "Redis lost writes it had acknowledged: "
                        + rolledBack.getMessage()
                        + ". Restarting the daemon: it streams again from the position Redis"
                        + " holds, or loads every mapped table again if PostgreSQL no longer has"
                        + " those changes"));
    this.source =
        new DebeziumChangeSource(
            configuration,
            stateStore,
            epoch,
            () ->
                stateLostOr(
                    "Redis refused the offsets of "
                        + configuration.settings().name()
                        + ": the state they belong to is gone, or Redis holds less of the stream"
                        + " than it acknowledged (a failover lost writes). Restarting the daemon:"
                        + " it resumes from what Redis holds, or loads every mapped table again"),
            synchronizer,
            resumedFrom,
            new LoadListener());
    if (!toLoad.isEmpty()) {
      source.load(new LoadRequest("added-tables", toLoad));
    }
  }

  /**
   * Connects to Redis, decides between resuming and reloading, and starts streaming. The preflight
   * must have passed.
   */
  public static Daemon start(Configuration configuration) throws Exception {
    SynchronizerSettings settings = configuration.settings();
    LettuceCacheWriter writer =
        LettuceCacheWriter.connect(settings.redis(), settings.stateKeyPrefix());
    StateStore stateStore = null;
    try {
      stateStore = LettuceStateStore.connect(settings.redis(), settings.stateKeyPrefix());
      Daemon daemon = new Daemon(configuration, writer, stateStore);
      daemon.source.start();
      daemon.poller.scheduleWithFixedDelay(daemon::poll, 1, 1, TimeUnit.SECONDS);
      daemon.source.finished().whenComplete((ignored, error) -> daemon.sourceEnded(error));
      daemon.transition(State.STARTING, State.RUNNING);
      LOG.info("Streaming from replication slot {}", settings.slotName());
      return daemon;
    } catch (Exception | Error e) {
      if (stateStore != null) {
        stateStore.close();
      }
      writer.close();
      throw e;
    }
  }

  /** Records loads in Redis: tables loaded, and the progress of resync requests. */
  private final class LoadListener implements LoadRequest.Listener {
    @Override
    public void progress(LoadRequest request, Map<TableId, Long> rowsLoaded) {
      stateStore.resyncStatus(request.id(), "running", byName(rowsLoaded));
    }

    @Override
    public void completed(LoadRequest request, Map<TableId, Long> rowsLoaded) {
      stateStore.markLoaded(
          request.tables().stream().map(TableId::toString).collect(Collectors.toSet()));
      stateStore.resyncStatus(request.id(), "done", byName(rowsLoaded));
    }

    @Override
    public void initialLoadCompleted(Map<TableId, Long> rowsLoaded) {
      initialLoad.complete(rowsLoaded);
    }

    private Map<String, Long> byName(Map<TableId, Long> rows) {
      Map<String, Long> named = new TreeMap<>();
      rows.forEach((table, count) -> named.put(table.toString(), count));
      return named;
    }
  }

  /**
   * Notices a lost dataset (invariant 5): Redis restarted empty, was flushed, or failed over to a
   * replica without the state; or another daemon reset it. The epoch stored with the offsets is
   * then gone or different.
   */
  private void checkState() {
    try {
      Optional<String> stored = stateStore.epoch();
      boolean missing = !stored.equals(Optional.of(epoch));
      // Acts on two readings in a row, a second apart: a reload is costly, and a real loss does
      // not come back.
      boolean confirmed = missing && epochMissing;
      epochMissing = missing;
      if (confirmed) {
        stateLost(
            stored.isEmpty()
                ? "its state keys are gone (Redis restarted empty, was flushed, or failed over to a"
                    + " replica without them)"
                : "its state was reset by another process (epoch " + stored.get() + ")");
      }
    } catch (RuntimeException e) {
      LOG.debug("Could not read the state's epoch: {}", e.getMessage());
    }
  }

  /**
   * Runs the sweep a reload recorded (see {@link StateStore#reset}) once no initial load is
   * running: a daemon that restarted mid-sweep, or a failover to a replica that lost some of the
   * sweep's deletes, finds it still recorded and sweeps again.
   */
  private void sweepIfNeeded() {
    if ((loadsEverything && !initialLoad.isDone()) || System.nanoTime() < nextSweep) {
      return;
    }
    try {
      if (stateStore.sweepNeeded()) {
        removeOrphans();
        stateStore.sweepDone();
      }
    } catch (Exception e) {
      if (state.get() == State.STOPPING || state.get() == State.STOPPED) {
        // Stopping interrupts the poller; the sweep stays recorded in Redis for the next start.
        LOG.info("Stopping before the orphan sweep finished; the next start runs it");
        return;
      }
      nextSweep = System.nanoTime() + SWEEP_RETRY.toNanos();
      LOG.warn(
          "Could not remove the keys of rows deleted before the reload ({}); trying again in {} s",
          e.toString(),
          SWEEP_RETRY.toSeconds());
    }
  }

  /** Removes the keys under each table's prefix whose row does not exist (after a reload). */
  private void removeOrphans() throws Exception {
    try (Connection connection =
            new PostgresConnector(configuration.settings().postgres()).open("orphan sweep");
        LettuceCacheInspector redis =
            LettuceCacheInspector.connect(configuration.settings().redis())) {
      OrphanSweeper sweeper = new OrphanSweeper(connection, redis);
      long[] evicted = {0};
      for (TableMapping table : configuration.mapping().tables()) {
        sweeper.find(table, found -> evicted[0] += redis.evict(found));
      }
      LOG.info("Reload done; removed {} keys of rows deleted meanwhile", evicted[0]);
    }
  }

  /** Stops this daemon so that the caller starts a new one, which reloads every mapped table. */
  private void stateLost(String why) {
    restart(
        "Redis lost the cache of "
            + configuration.settings().name()
            + ": "
            + why
            + ". Restarting the daemon to load every mapped table again");
  }

  /**
   * Restarts for a lost dataset when the state's epoch is gone (the clearer message), else for the
   * reason given (Redis holds less of the stream than it acknowledged).
   */
  private void stateLostOr(String why) {
    boolean epochGone;
    try {
      epochGone = !stateStore.epoch().equals(Optional.of(epoch));
    } catch (RuntimeException e) {
      epochGone = false;
    }
    if (epochGone) {
      stateLost(
          "its state keys are gone (Redis restarted empty, was flushed, or failed over to a"
              + " replica without them)");
    } else {
      restart(why);
    }
  }

  /**
   * Stops this daemon so that the caller starts a new one, which decides again between resuming and
   * reloading from what Redis and the slot hold.
   */
  private void restart(String why) {
    if (state.get() == State.RUNNING && reloadNeeded.compareAndSet(false, true)) {
      LOG.warn("{}", why);
      new Thread(this::stop, "cachesync-restart").start();
    }
  }

  /**
   * Whether the daemon stopped because Redis lost its state or acknowledged writes; a daemon
   * started next decides again between resuming and reloading.
   */
  public boolean reloadNeeded() {
    return reloadNeeded.get();
  }

  /**
   * Once a second: notices a lost dataset, runs a sweep a reload recorded, and hands resync
   * requests queued in Redis (by {@code cachesync resync}) to the source.
   */
  private void poll() {
    checkState();
    sweepIfNeeded();
    try {
      Optional<Map.Entry<String, Set<String>>> request;
      while ((request = stateStore.takeResync()).isPresent()) {
        String id = request.get().getKey();
        Set<TableId> tables =
            request.get().getValue().stream().map(TableId::parse).collect(Collectors.toSet());
        LOG.info("Resync {} requested for {}", id, tables);
        source.load(new LoadRequest(id, tables));
      }
    } catch (RuntimeException e) {
      LOG.debug("Could not read resync requests: {}", e.getMessage());
    }
  }

  private void transition(State from, State to) {
    if (state.compareAndSet(from, to)) {
      LOG.info("State {} -> {}", from, to);
    }
  }

  public State state() {
    return state.get();
  }

  /** Whether this run loads every mapped table first (a first start, or Redis lost its state). */
  public boolean loadsEverything() {
    return loadsEverything;
  }

  /** Completes with the rows loaded once the initial load of a first start is done. */
  public CompletableFuture<Map<TableId, Long>> initialLoad() {
    return initialLoad;
  }

  /** Rows of the initial load so far, per table. */
  public Map<TableId, Long> initialLoadProgress() {
    return source.initialRows();
  }

  public Synchronizer synchronizer() {
    return synchronizer;
  }

  /** Completes with the final state, STOPPED or FAILED. */
  public CompletableFuture<State> terminated() {
    return terminated;
  }

  /**
   * Decides between resuming and reloading. Resuming needs both halves of the state: the offsets
   * stored in Redis beside the data, and the replication slot they point into. Without stored
   * offsets the slot cannot be trusted to match Redis; a slot that is gone, or confirmed past the
   * stored offsets (recreated, or read by another consumer), no longer holds the changes Redis
   * misses. Either way every table is loaded again, and the log says why.
   */
  private Set<TableId> prepareState()
      throws ServerUnreachableException, SQLException, StartRefusedException {
    SynchronizerSettings settings = configuration.settings();
    Set<String> mapped =
        configuration.mapping().tables().stream()
            .map(t -> t.table().toString())
            .collect(Collectors.toCollection(TreeSet::new));
    ReplicationSlots slots = new ReplicationSlots(new PostgresConnector(settings.postgres()));
    Optional<ReplicationSlots.Slot> slot = slots.find(settings.slotName());
    if (slot.isPresent() && slot.get().active()) {
      throw new SlotInUseException(
          "replication slot "
              + settings.slotName()
              + " is in use by another process (pid "
              + slot.get().activePid().map(String::valueOf).orElse("?")
              + "): another cachesync named '"
              + settings.name()
              + "' is running");
    }
    Map<String, String> offsets = stateStore.offsets();
    String reload = null;
    if (offsets.isEmpty()) {
      reload =
          slot.isPresent()
              ? "Redis holds no position for replication slot "
                  + settings.slotName()
                  + " (the cache was flushed or lost, or never loaded)"
              : null;
    } else if (slot.isEmpty()) {
      reload =
          "replication slot "
              + settings.slotName()
              + " is gone although Redis holds a position (dropped, or PostgreSQL restored or failed"
              + " over without it): the changes since then cannot be streamed";
    } else if (RedisOffsetBackingStore.initialLoadInterrupted(offsets)) {
      reload =
          "the initial load was interrupted (the daemon stopped before it finished): it starts"
              + " again on a new replication slot, so that its rows are versioned past every change"
              + " already in Redis";
    } else if (slot.get().confirmedFlushLsn() > RedisOffsetBackingStore.furthestLsn(offsets)) {
      reload =
          "replication slot "
              + settings.slotName()
              + " was confirmed up to "
              + Version.lsnText(slot.get().confirmedFlushLsn())
              + ", past the position stored in Redis ("
              + Version.lsnText(RedisOffsetBackingStore.furthestLsn(offsets))
              + "): it was recreated or read by another consumer, and the changes in between never"
              + " reached Redis";
    }
    if (offsets.isEmpty() || reload != null) {
      if (reload != null) {
        LOG.warn("{}: loading every mapped table again", reload);
        // Redis may still hold keys of rows deleted while the stream was lost: the load rewrites
        // the rows that exist, and a sweep after it, recorded with the reset, removes the keys of
        // those that do not.
      } else {
        LOG.info("First start: loading every mapped table, then streaming");
      }
      if (slot.isPresent()) {
        try {
          slots.drop(settings.slotName());
        } catch (SQLException e) {
          if ("55006".equals(e.getSQLState())) { // object_in_use: another daemon took it meanwhile
            throw new SlotInUseException(
                "replication slot " + settings.slotName() + " was taken by another process");
          }
          throw e;
        }
      }
      epoch = UUID.randomUUID().toString();
      // A sweep a reload recorded outlives the reset of a "first start" that follows it: that
      // reload reset the offsets and dropped the slot, then stopped before its load was done.
      stateStore.reset(epoch, reload != null || stateStore.sweepNeeded());
      stateStore.markLoaded(mapped);
      loadsEverything = true;
      return Set.of();
    }
    epoch = UUID.randomUUID().toString();
    stateStore.adoptEpoch(epoch);
    epoch = stateStore.epoch().orElseThrow();
    Set<String> loaded = stateStore.loadedTables();
    Set<String> added = new TreeSet<>(mapped);
    added.removeAll(loaded);
    Set<String> removed = new TreeSet<>(loaded);
    removed.removeAll(mapped);
    if (!removed.isEmpty()) {
      LOG.warn(
          "No longer mapped, so no longer synced: {}; their keys stay in Redis until they expire or are deleted",
          removed);
    }
    if (!added.isEmpty()) {
      LOG.info(
          "Newly mapped tables {}: streamed from now on, their existing rows loaded alongside",
          added);
    }
    return added.stream().map(TableId::parse).collect(Collectors.toSet());
  }

  private void sourceEnded(Throwable error) {
    if (state.get() == State.STOPPING || state.get() == State.STOPPED) {
      return;
    }
    LOG.error(
        "Debezium stopped by itself{}", error == null ? "" : ": " + error.getMessage(), error);
    State from = state.get();
    transition(from, State.FAILED);
    closeConnections();
    terminated.complete(State.FAILED);
  }

  /**
   * Stops cleanly: the batch in flight is finished and committed, unless Redis cannot take it
   * within a grace period; then it is given up and replayed on the next start.
   */
  public void stop() {
    if (!state.compareAndSet(State.RUNNING, State.STOPPING)) {
      return;
    }
    LOG.info("State RUNNING -> STOPPING: finishing the batch in flight");
    CompletableFuture<Void> closed =
        CompletableFuture.runAsync(
            () -> {
              try {
                source.close();
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });
    try {
      try {
        closed.get(GRACE_SECONDS, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        LOG.warn(
            "The batch in flight was not applied within {} s; giving it up, it is replayed on the next start",
            GRACE_SECONDS);
        synchronizer.stop();
        closed.get(GRACE_SECONDS, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn("Debezium did not stop cleanly: {}", e.getMessage());
    }
    Synchronizer.Counts counts = synchronizer.counts();
    LOG.info(
        "Stopped at {}: {} changes, {} written, {} evicted, {} stale, {} failed, {} replays of applied changes skipped",
        synchronizer.acknowledged(),
        counts.changes(),
        counts.written(),
        counts.evicted(),
        counts.stale(),
        counts.failed(),
        counts.replayed());
    closeConnections();
    transition(State.STOPPING, State.STOPPED);
    terminated.complete(State.STOPPED);
  }

  private void closeConnections() {
    poller.shutdownNow();
    stateStore.close();
    writer.close();
  }

  @Override
  public void close() {
    stop();
  }
}
