package io.cachesync;

import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.load.BulkChunkWriter;
import io.cachesync.load.InitialLoad;
import io.cachesync.metrics.Phase;
import io.cachesync.metrics.SyncMetrics;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.redis.BulkLoadWriter;
import io.cachesync.redis.ClusterCacheWriter;
import io.cachesync.redis.HashSlots;
import io.cachesync.redis.LettuceCacheWriter;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.source.DebeziumChangeSource;
import io.cachesync.source.ExportedSnapshot;
import io.cachesync.source.LoadRequest;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.Publications;
import io.cachesync.source.RedisOffsetBackingStore;
import io.cachesync.source.ReplicationSlots;
import io.cachesync.source.SignalTable;
import io.cachesync.source.TableSizes;
import io.cachesync.state.StateStore;
import io.cachesync.state.WriterLease;
import io.cachesync.sync.CacheWriter;
import io.cachesync.sync.SyncListener;
import io.cachesync.sync.Synchronizer;
import io.cachesync.sync.WriterRoleLostException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.SQLException;
import java.time.Clock;
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

  /**
   * Another daemon of the same name holds the writer's role (see {@link WriterLease}), or still
   * streams from the slot: this daemon can only stand by.
   */
  public static final class SlotInUseException extends StartRefusedException {
    private static final long serialVersionUID = 1L;

    SlotInUseException(String message) {
      super(message);
    }
  }

  private final AtomicReference<State> state = new AtomicReference<>(State.STARTING);
  private final Configuration configuration;
  private final CacheWriter writer;

  /** Redis's proto-max-bulk-len (the smallest of the masters' on a cluster). */
  private final long maxValueBytes;

  private final StateStore stateStore;
  private final WriterLease lease;
  private final Synchronizer synchronizer;
  private final DebeziumChangeSource source;
  private final BulkChunkWriter chunkWriter;
  private final Housekeeper housekeeper;
  private final SyncMetrics metrics;

  /** Whether the metrics are this daemon's own (nobody else closes them). */
  private volatile boolean ownsMetrics;

  private final CompletableFuture<State> terminated = new CompletableFuture<>();

  /** Completes with the rows loaded when a first start's initial load is done. */
  private final CompletableFuture<Map<TableId, Long>> initialLoad = new CompletableFuture<>();

  private boolean loadsEverything;

  /** Whether the source was started: a start that fails after it must close it. */
  private boolean sourceStarted;

  /** Held while the source starts, so that a stop does not race it. */
  private final Object sourceLock = new Object();

  /** The initial load's thread and the load it runs, when this daemon loads every table. */
  private volatile Thread loadThread;

  private volatile InitialLoad runningLoad;

  /** The epoch of the state this daemon writes under (see {@link StateStore#epoch()}). */
  private String epoch;

  /** Set when the daemon stopped because Redis lost its state: the caller starts a new one. */
  private final AtomicBoolean reloadNeeded = new AtomicBoolean();

  private Daemon(
      Configuration configuration,
      CacheWriter writer,
      long maxValueBytes,
      StateStore stateStore,
      WriterLease lease,
      SyncMetrics metrics)
      throws Exception {
    this.configuration = configuration;
    this.metrics = metrics;
    this.writer = writer;
    this.maxValueBytes = maxValueBytes;
    this.stateStore = stateStore;
    this.lease = lease;
    Set<TableId> toLoad = prepareState();
    // Only now is this daemon surely the writer: it holds the lease and the slot is free.
    requireRole("putting back the resync requests an earlier daemon took");
    long requeued = stateStore.requeueTakenResyncs();
    if (requeued > 0) {
      LOG.info(
          "{} resync requests taken by an earlier daemon were not done; queued again", requeued);
    }
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
                        + " those changes"),
            roleLost -> roleLost(roleLost.getMessage()),
            // Nobody can read the metrics without the endpoint: the hot path does not count.
            configuration.settings().http().enabled() ? metrics : SyncListener.NONE);
    this.chunkWriter =
        new BulkChunkWriter(
            configuration.settings(),
            lease.owner(),
            epoch,
            maxValueBytes,
            configuration.mapping(),
            synchronizer,
            this::roleLost,
            this::stateLost,
            metrics::rowsLoaded);
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
            new LoadListener(),
            chunkWriter);
    this.housekeeper =
        new Housekeeper(
            configuration,
            stateStore,
            epoch,
            lease.owner(),
            this::stateLost,
            () -> loadsEverything && !initialLoad.isDone(),
            () -> state.get() == State.STOPPING || state.get() == State.STOPPED,
            source::load);
    if (loadsEverything) {
      metrics.loadQueued();
      metrics.loadStarted(
          "initial",
          TableSizes.estimate(
              postgres,
              configuration.mapping().tables().stream().map(TableMapping::table).toList()));
    }
    if (!toLoad.isEmpty()) {
      source.load(new LoadRequest("added-tables", toLoad));
    }
  }

  /**
   * Connects to Redis, takes the writer's role, decides between resuming and reloading, and starts
   * streaming. The preflight must have passed.
   *
   * @throws SlotInUseException when another daemon of the same name holds the role: stand by
   */
  public static Daemon start(Configuration configuration) throws Exception {
    SynchronizerSettings settings = configuration.settings();
    SyncMetrics metrics =
        new SyncMetrics(
            settings.name(), configuration.mapping().tables(), settings.http(), Clock.systemUTC());
    try {
      Daemon daemon = start(configuration, metrics);
      daemon.ownsMetrics = true;
      return daemon;
    } catch (Exception | Error e) {
      metrics.close();
      throw e;
    }
  }

  /**
   * As {@link #start(Configuration)}, reporting to {@code metrics}, which outlive the daemon (a run
   * starts a new daemon after a lost cache or role).
   */
  public static Daemon start(Configuration configuration, SyncMetrics metrics) throws Exception {
    SynchronizerSettings settings = configuration.settings();
    // The role first: a daemon standing by opens no writer (whose background TRUNCATE evictions
    // would run beside the active daemon's) and retries cheaply.
    StateStore stateStore = LettuceStateStore.connect(settings.redis(), settings.stateKeyPrefix());
    WriterLease lease = null;
    CacheWriter writer = null;
    Daemon daemon = null;
    AtomicReference<Daemon> running = new AtomicReference<>();
    try {
      lease = takeRole(settings, stateStore);
      // Renewed from now on, so that a start slower than the lease's TTL (a lock on a table,
      // a slow PostgreSQL) keeps the role. A loss while starting is noticed before each step that
      // must not run unless this daemon holds the role (see requireRole); a loss once running
      // stops it. While the initial load runs nothing is streamed from the slot, so it fences
      // nothing; nor does it while starting.
      boolean unfenced = Boolean.getBoolean(LettuceCacheWriter.UNSAFE_NO_LEASE_FENCE);
      lease.keep(
          why -> {
            Daemon started = running.get();
            if (unfenced) {
              LOG.warn(
                  "{}; writing on regardless ({})", why, LettuceCacheWriter.UNSAFE_NO_LEASE_FENCE);
            } else if (started != null) {
              started.roleLost(why);
            }
          },
          () -> {
            Daemon started = running.get();
            return started != null && (!started.loadsEverything || started.initialLoad.isDone());
          });
      long maxValueBytes;
      if (settings.redis().cluster()) {
        ClusterCacheWriter cluster =
            ClusterCacheWriter.connect(
                settings.redis(),
                settings.stateKeyPrefix(),
                settings.shardKeyPrefix(),
                lease.owner());
        writer = cluster;
        maxValueBytes = cluster.maxValueBytes();
      } else {
        LettuceCacheWriter master =
            LettuceCacheWriter.connect(settings.redis(), settings.stateKeyPrefix(), lease.owner());
        writer = master;
        maxValueBytes = master.maxValueBytes();
      }
      daemon = new Daemon(configuration, writer, maxValueBytes, stateStore, lease, metrics);
      daemon.requireRole(daemon.loadsEverything ? "loading every mapped table" : "streaming");
      if (!daemon.loadsEverything) {
        daemon.startSource();
      }
      daemon.housekeeper.start();
      daemon.transition(State.STARTING, State.RUNNING);
      metrics.phase(daemon.loadsEverything ? Phase.LOADING : Phase.STREAMING);
      running.set(daemon);
      Daemon started = daemon;
      // Registered once RUNNING: a source that already ended fails the daemon here and now.
      daemon.source.finished().whenComplete((ignored, error) -> started.sourceEnded(error));
      if (daemon.loadsEverything) {
        // Once RUNNING, so that a load done at once finds the daemon running.
        daemon.startInitialLoad();
      }
      if (lease.lost()) {
        daemon.roleLost("the lease was lost while the daemon started");
      }
      LOG.info(
          daemon.loadsEverything
              ? "Loading every mapped table, then streaming from replication slot {}"
              : "Streaming from replication slot {}",
          settings.slotName());
      return daemon;
    } catch (Exception | Error e) {
      if (daemon != null) {
        daemon.abandonStart();
      }
      if (writer != null) {
        writer.close();
      }
      if (lease != null) {
        lease.close();
      }
      stateStore.close();
      throw e;
    }
  }

  /** Starts Debezium's streaming from the slot, unless the daemon is stopping. */
  private void startSource() {
    synchronized (sourceLock) {
      if (state.get() == State.STOPPING || state.get() == State.STOPPED) {
        return;
      }
      source.start();
      sourceStarted = true;
    }
  }

  /**
   * Runs the initial load on a thread of its own (see {@link InitialLoad}): creates the slot with
   * an exported snapshot, loads every mapped table in it, stores the snapshot's position, which
   * marks the load done ({@link #prepareState()} resumes from it), then starts streaming from the
   * slot's consistent point. A load that fails (PostgreSQL lost, a reader's error) fails the
   * daemon: the next one to start finds no stored position and loads again, on a new slot.
   */
  private void startInitialLoad() {
    Thread thread = new Thread(this::runInitialLoad, "cachesync-initial-load");
    thread.setDaemon(true);
    loadThread = thread;
    thread.start();
  }

  private void runInitialLoad() {
    SynchronizerSettings settings = configuration.settings();
    PostgresConnector postgres = new PostgresConnector(settings.postgres());
    long started = System.nanoTime();
    try (BulkLoadWriter bulk =
        BulkLoadWriter.connect(
            settings.redis(),
            settings.stateKeyPrefix(),
            settings.shardKeyPrefix(),
            lease.owner(),
            epoch,
            maxValueBytes)) {
      String master = bulk.replicationId();
      InitialLoad.Result result;
      Version position;
      try (ExportedSnapshot snapshot = ExportedSnapshot.createSlot(postgres, settings.slotName())) {
        position = Version.snapshot(snapshot.consistentPoint());
        InitialLoad load =
            new InitialLoad(
                postgres,
                configuration.mapping(),
                bulk,
                InitialLoad.defaultReaders(),
                metrics::rowsLoaded);
        runningLoad = load;
        if (state.get() != State.RUNNING) {
          return; // stopped meanwhile
        }
        result = load.run(snapshot);
      }
      // Every row is acknowledged by the master. Storing the position (with the WAIT of
      // redis.waitReplicas, which covers every write before it) marks the load done; it is stored
      // only into the state this daemon created: a Redis that lost it meanwhile lost rows too.
      if (!stateStore.epoch().equals(Optional.of(epoch))) {
        stateLost("its state keys vanished during the initial load");
        return;
      }
      synchronizer.accept(List.of(), position);
      if (!synchronizer.acknowledged().equals(position)) {
        return; // stopped, or the role or the state was lost: the callbacks said so
      }
      // The rows went without WAIT: a failover during the load (to a replica that had not
      // received them all) loses rows the old master acknowledged, and the new master's
      // replication id differs. The position, stored with WAIT, is then taken back, so that the
      // next start loads again rather than resume over a cache with holes. An id that cannot be
      // read (the connection to a master broke: it restarted, or failed over) counts as changed.
      String masterNow;
      try {
        masterNow = bulk.replicationId();
      } catch (RuntimeException e) {
        masterNow = "unknown (" + e.getMessage() + ")";
      }
      if (!master.equals(masterNow)) {
        bulk.forgetPosition(settings.stateKeyPrefix());
        restart(
            "Redis's master changed during the initial load (replication id "
                + master
                + " -> "
                + masterNow
                + "): rows the old master took may be lost. Restarting the daemon to load every"
                + " mapped table again");
        return;
      }
      long millis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      long total = result.rows().values().stream().mapToLong(Long::longValue).sum();
      LOG.info(
          "Initial load done: {} rows in {} s ({} rows/s), {} written, {} evicted, {} refused; {}",
          total,
          String.format(java.util.Locale.ROOT, "%.1f", millis / 1000.0),
          total * 1000 / millis,
          result.written(),
          result.evicted(),
          result.refused(),
          result.rows());
      synchronizer.countLoad(total, result.written(), result.evicted(), result.refused());
      new LoadListener().initialLoadCompleted(result.rows());
      source.resumeAfterLoad(position);
      startSource();
      LOG.info("Streaming from replication slot {}", settings.slotName());
    } catch (InterruptedException e) {
      LOG.info("The initial load stopped before it was done; the next start loads again");
    } catch (WriterRoleLostException e) {
      roleLost(e.getMessage());
    } catch (BulkLoadWriter.StateLostException e) {
      stateLost(e.getMessage());
    } catch (Exception | Error e) {
      if (state.get() == State.STOPPING || state.get() == State.STOPPED) {
        LOG.info("The initial load stopped before it was done: {}", e.getMessage());
        return;
      }
      boolean outage = e instanceof ServerUnreachableException;
      LOG.error(
          "The initial load failed: {}; the next start loads again",
          outage ? e.getMessage() : e.toString(),
          outage ? null : e);
      failed();
    }
  }

  /** Ends what a start that failed had started: the source (Debezium's threads) and the upkeep. */
  private void abandonStart() {
    stopInitialLoad();
    housekeeper.close();
    if (sourceStarted) {
      try {
        source.close();
      } catch (IOException | RuntimeException e) {
        LOG.warn("Could not stop Debezium after the start failed: {}", e.getMessage());
      }
    } else {
      source.discard();
    }
  }

  /**
   * Renews the lease now and fails the start unless this daemon still holds the writer's role:
   * called before each step of a start that another daemon's work must not meet (dropping the slot,
   * resetting the state, streaming).
   *
   * @param step what would run next, for the message
   */
  private void requireRole(String step) throws SlotInUseException {
    if (!lease.confirm()) {
      throw new SlotInUseException(
          "lost the writer's role of "
              + configuration.settings().name()
              + " while starting, before "
              + step
              + ": another daemon holds it now ("
              + lease.holder().orElse("?")
              + "); standing by");
    }
  }

  /**
   * Takes the writer's role for the whole run, initial load included. The resync requests a daemon
   * that held it before took but did not finish are put back once the slot is known to be free.
   */
  private static WriterLease takeRole(SynchronizerSettings settings, StateStore stateStore)
      throws SlotInUseException {
    WriterLease lease = WriterLease.of(stateStore);
    if (!lease.acquire()) {
      throw new SlotInUseException(
          "another cachesync named '"
              + settings.name()
              + "' holds the writer's role ("
              + lease.holder().orElse("?")
              + ", lease "
              + settings.stateKeyPrefix()
              + "writer, renewed every "
              + WriterLease.RENEW_EVERY.toSeconds()
              + " s, expires "
              + WriterLease.TTL.toSeconds()
              + " s after its last renewal)");
    }
    LOG.info("Holding the writer's role of {} as {}", settings.name(), lease.owner());
    return lease;
  }

  /** The writer's role was lost: this daemon stops writing; the caller starts again (standby). */
  private void roleLost(String why) {
    // No request is taken once the role is lost: the new writer put back those taken before.
    if (housekeeper != null) {
      housekeeper.close();
    }
    restart(
        "Lost the writer's role of "
            + configuration.settings().name()
            + ": "
            + why
            + ". Stopping; starting again stands by while another daemon holds the role");
  }

  /** Records loads in Redis: tables loaded, and the progress of resync requests. */
  private final class LoadListener implements LoadRequest.Listener {
    @Override
    public void queued(LoadRequest request) {
      metrics.loadQueued();
    }

    @Override
    public void started(LoadRequest request) {
      metrics.loadStarted(
          request.id(),
          TableSizes.estimate(
              new PostgresConnector(configuration.settings().postgres()), request.tables()));
    }

    @Override
    public void progress(LoadRequest request, Map<TableId, Long> rowsLoaded) {
      stateStore.resyncStatus(request.id(), "running", byName(rowsLoaded));
    }

    @Override
    public void completed(LoadRequest request, Map<TableId, Long> rowsLoaded) {
      stateStore.markLoaded(
          request.tables().stream().map(TableId::toString).collect(Collectors.toSet()));
      stateStore.finishResync(request.id(), byName(rowsLoaded));
      metrics.loadEnded();
    }

    @Override
    public void initialLoadCompleted(Map<TableId, Long> rowsLoaded) {
      metrics.loadEnded();
      if (state.get() == State.RUNNING) {
        metrics.phase(Phase.STREAMING);
      }
      initialLoad.complete(rowsLoaded);
    }

    private Map<String, Long> byName(Map<TableId, Long> rows) {
      Map<String, Long> named = new TreeMap<>();
      rows.forEach((table, count) -> named.put(table.toString(), count));
      return named;
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

  /** Moves the lifecycle from {@code from} to {@code to}, if it is there; logs the move. */
  private boolean transition(State from, State to) {
    if (state.compareAndSet(from, to)) {
      LOG.info("State {} -> {}", from, to);
      return true;
    }
    return false;
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
    InitialLoad load = runningLoad;
    return load != null ? load.rowsSoFar() : source.initialRows();
  }

  public Synchronizer synchronizer() {
    return synchronizer;
  }

  /** The metrics this daemon reports to. */
  public SyncMetrics metrics() {
    return metrics;
  }

  /** Completes with the final state, STOPPED or FAILED. */
  public CompletableFuture<State> terminated() {
    return terminated;
  }

  /**
   * Decides between resuming and reloading (see {@link StartDecision}) and prepares the state for
   * it; returns the newly mapped tables to load alongside the stream.
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
      // The role is this daemon's, yet a process still streams: the walsender of a daemon killed
      // a moment ago, or a daemon that lost the role and has not stopped yet.
      throw new SlotInUseException(
          "replication slot "
              + settings.slotName()
              + " is in use by another process (pid "
              + slot.get().activePid().map(String::valueOf).orElse("?")
              + "): another cachesync named '"
              + settings.name()
              + "' still streams from it");
    }
    if (writer instanceof ClusterCacheWriter cluster
        && slot.isPresent()
        && stateStore.epoch().isPresent()) {
      repairLostMasters(cluster, mapped, slot.get().confirmedFlushLsn());
    }
    Map<String, String> offsets = stateStore.offsets();
    Optional<StartDecision.StoredOffsets> loadedAt = loadedPosition();
    if (settings.redis().cluster()
        && !offsets.isEmpty()
        && (loadedAt.isEmpty()
            || RedisOffsetBackingStore.furthestLsn(offsets) > loadedAt.get().furthestLsn())) {
      // On a cluster the offsets live on one master, and a master that lost writes (a failover to
      // a replica that was behind, a restart without its data) holds less than they say:
      // resuming from them would skip what it lost. Without them Debezium resumes from the slot's
      // confirmed position, and the start decision below loads everything again when that is past
      // what the master holds, or when it holds nothing.
      LOG.warn(
          "A Redis master holds the stream only up to {}, less than the offsets saved; forgetting"
              + " the offsets, to stream again from the replication slot's confirmed position",
          loadedAt.map(at -> Version.lsnText(at.furthestLsn())).orElse("nothing"));
      stateStore.forgetOffsets();
      offsets = stateStore.offsets();
    }
    // Debezium may have saved offsets that name no position yet (it stopped before it streamed a
    // change after cachesync's initial load): the position stored with the data then says where
    // the stream stands.
    Optional<StartDecision.StoredOffsets> stored =
        offsets.isEmpty()
            ? loadedAt
            : Optional.of(
                new StartDecision.StoredOffsets(
                    Math.max(
                        RedisOffsetBackingStore.furthestLsn(offsets),
                        loadedAt.map(StartDecision.StoredOffsets::furthestLsn).orElse(0L)),
                    RedisOffsetBackingStore.initialLoadInterrupted(offsets)));
    StartDecision decision =
        StartDecision.of(
            settings.slotName(),
            slot.map(ReplicationSlots.Slot::confirmedFlushLsn),
            stored,
            stateStore.sweepNeeded());
    if (decision.loadsEverything()) {
      loadEverything(decision, slots, mapped);
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

  /**
   * Repairs, on a Redis Cluster whose state is whole, each master that holds less of the stream
   * than every master acknowledged (it restarted without its data, or a failover promoted a replica
   * that was behind), without loading the other masters again: its keys of the mapped tables are
   * deleted, and a resync of every mapped table that writes only the keys of its slots is queued
   * (see {@link ClusterCacheWriter#repair}). The stream then resumes as if nothing was lost; the
   * replication slot and the other masters' keys stay. A master whose position the replication slot
   * can still stream from (it was confirmed no further) is left to streaming again instead, which
   * is cheaper: see the offsets below. A state master that lost writes is noticed by the start
   * decision (its offsets and position went back with it), which loads every table again.
   *
   * @param confirmedLsn how far the replication slot was confirmed
   */
  private void repairLostMasters(ClusterCacheWriter cluster, Set<String> mapped, long confirmedLsn)
      throws SlotInUseException, SQLException, ServerUnreachableException {
    List<ClusterCacheWriter.LostMaster> lost =
        cluster.lostMasters().stream()
            .filter(
                master ->
                    master
                        .holds()
                        .map(at -> (at.initialLoad() ? at.commit() : at.applied()) < confirmedLsn)
                        .orElse(true))
            .toList();
    if (lost.isEmpty()) {
      return;
    }
    List<String> toastable = toastableColumns();
    if (!toastable.isEmpty()) {
      LOG.warn(
          "Redis master(s) {} lost writes every master had acknowledged; they cannot be repaired"
              + " alone, because mapped columns may arrive as unchanged TOAST values, which the"
              + " stream cannot write to a key the repair deleted ({}; ALTER TABLE ... ALTER COLUMN"
              + " ... SET STORAGE PLAIN keeps a column's values in line): every table is loaded"
              + " again",
          lost,
          String.join(", ", toastable));
      return;
    }
    requireRole("repairing the Redis masters that lost writes");
    String id = "repair-" + UUID.randomUUID();
    HashSlots slots = HashSlots.none();
    for (ClusterCacheWriter.LostMaster master : lost) {
      slots = slots.plus(HashSlots.parse(master.slots()));
    }
    String ranges = slots.toString();
    List<KeyTemplate> templates =
        configuration.mapping().tables().stream().map(TableMapping::key).toList();
    long deleted;
    try {
      deleted =
          cluster.repair(
              lost,
              templates.stream().map(KeyTemplate::prefixGlob).distinct().toList(),
              key -> templates.stream().anyMatch(template -> template.match(key).isPresent()),
              () -> stateStore.submitResync(id, mapped, ranges));
    } catch (WriterRoleLostException e) {
      throw new SlotInUseException(
          "lost the writer's role of "
              + configuration.settings().name()
              + " while repairing the Redis masters that lost writes ("
              + e.getMessage()
              + "); standing by");
    }
    LOG.warn(
        "Redis master(s) {} lost writes every master had acknowledged: deleted their {} keys of"
            + " the mapped tables and queued resync {} of every mapped table, writing only the keys"
            + " of their slots; the other masters keep their keys, and streaming resumes",
        lost,
        deleted,
        id);
    metrics.cacheRepaired();
  }

  /**
   * The mapped columns whose values PostgreSQL may store out of line (variable length, storage
   * other than PLAIN), and so leave out of an UPDATE that does not change them, as {@code
   * table.column}. A key the repair of a master deleted cannot take such an UPDATE (there is no
   * cached value to keep the column from), and a resync chunk that already passed the row does not
   * write it again.
   */
  private List<String> toastableColumns() throws SQLException, ServerUnreachableException {
    List<String> found = new ArrayList<>();
    try (java.sql.Connection c =
            new PostgresConnector(configuration.settings().postgres())
                .openForShortStatements("reading which mapped columns can be TOASTed");
        java.sql.PreparedStatement query =
            c.prepareStatement(
                "SELECT a.attname FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid"
                    + " JOIN pg_namespace n ON n.oid = t.relnamespace"
                    + " WHERE n.nspname = ? AND t.relname = ? AND a.attnum > 0"
                    + " AND NOT a.attisdropped AND a.attlen = -1 AND a.attstorage <> 'p'")) {
      for (TableMapping table : configuration.mapping().tables()) {
        query.setString(1, table.table().schema());
        query.setString(2, table.table().table());
        try (java.sql.ResultSet rows = query.executeQuery()) {
          while (rows.next()) {
            String column = rows.getString(1);
            if (table.columns().isEmpty() || table.columns().contains(column)) {
              found.add(table.table() + "." + column);
            }
          }
        }
      }
    }
    return found;
  }

  /**
   * Where the stream stands when Debezium has stored no offsets yet: after cachesync's own initial
   * load, which stores its snapshot's position only once every row is in Redis, and until Debezium
   * first stores offsets, which it does some batches after streaming began. Debezium then streams
   * from the slot's confirmed position, which never passes what Redis stored (the slot is confirmed
   * only for offsets saved after their batch), and the batches Redis holds already are skipped as
   * replays. A load that did not finish stored no position: the start loads again.
   */
  private Optional<StartDecision.StoredOffsets> loadedPosition() {
    if (stateStore.epoch().isEmpty()) {
      return Optional.empty(); // the state is gone (flushed), whatever position is left
    }
    return writer
        .position()
        .map(
            position ->
                new StartDecision.StoredOffsets(
                    position.initialLoad() ? position.commit() : position.applied(), false));
  }

  /** Starts the state afresh so that the initial load of every mapped table runs on a new slot. */
  private void loadEverything(StartDecision decision, ReplicationSlots slots, Set<String> mapped)
      throws ServerUnreachableException, SQLException, SlotInUseException {
    SynchronizerSettings settings = configuration.settings();
    if (decision.reason().isPresent()) {
      LOG.warn("{}: loading every mapped table again", decision.reason().get());
      metrics.cacheReloaded();
    } else {
      LOG.info("First start: loading every mapped table, then streaming");
    }
    requireRole("dropping replication slot " + settings.slotName() + " and resetting the state");
    if (decision.dropSlot()) {
      try {
        slots.drop(settings.slotName());
      } catch (SQLException e) {
        if ("55006".equals(e.getSQLState())) { // object_in_use: another process took it meanwhile
          throw new SlotInUseException(
              "replication slot " + settings.slotName() + " was taken by another process");
        }
        throw e;
      }
    }
    epoch = UUID.randomUUID().toString();
    stateStore.reset(epoch, decision.sweep());
    if (writer instanceof ClusterCacheWriter cluster) {
      // Each master's position lives in its shard key, outside the state reset just cleared.
      cluster.forgetShardPositions();
    }
    stateStore.markLoaded(mapped);
    loadsEverything = true;
  }

  private void sourceEnded(Throwable error) {
    if (state.get() == State.STOPPING || state.get() == State.STOPPED) {
      return;
    }
    LOG.error(
        "Debezium stopped by itself{}", error == null ? "" : ": " + error.getMessage(), error);
    failed();
  }

  /** Ends a running daemon that cannot go on; the caller starts a new one. */
  private void failed() {
    if (!transition(State.RUNNING, State.FAILED) && !transition(State.STARTING, State.FAILED)) {
      return;
    }
    synchronized (sourceLock) {
      if (!sourceStarted) {
        source.discard();
      }
    }
    metrics.phase(Phase.STARTING); // nothing streams until the caller starts a new daemon
    closeConnections();
    terminated.complete(State.FAILED);
  }

  /**
   * Stops cleanly: the batch in flight is finished and committed, unless Redis cannot take it
   * within a grace period; then it is given up and replayed on the next start.
   */
  public void stop() {
    if (!transition(State.RUNNING, State.STOPPING)) {
      return;
    }
    metrics.phase(Phase.STOPPING);
    stopInitialLoad();
    LOG.info("Finishing the batch in flight");
    CompletableFuture<Void> closed =
        CompletableFuture.runAsync(
            () -> {
              try {
                synchronized (sourceLock) {
                  if (!sourceStarted) {
                    source.discard();
                    return;
                  }
                }
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
        chunkWriter.stop();
        closed.get(GRACE_SECONDS, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn("Debezium did not stop cleanly: {}", e.getMessage());
    }
    awaitSlotReleased();
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

  /**
   * Waits, a few seconds at most, until PostgreSQL released the slot: its walsender ends a moment
   * after Debezium closed the replication connection, and until it has, a daemon started next would
   * take the slot for another's and stand by. PostgreSQL tells no one when it is released, so this
   * looks.
   */
  private void awaitSlotReleased() {
    synchronized (sourceLock) {
      if (!sourceStarted) {
        return;
      }
    }
    ReplicationSlots slots =
        new ReplicationSlots(new PostgresConnector(configuration.settings().postgres()));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    try {
      while (slots
          .find(configuration.settings().slotName())
          .map(ReplicationSlots.Slot::active)
          .orElse(false)) {
        if (System.nanoTime() > deadline) {
          LOG.info(
              "PostgreSQL has not released replication slot {} yet",
              configuration.settings().slotName());
          return;
        }
        TimeUnit.MILLISECONDS.sleep(50); // the pace of looking, not a guess at a duration
      }
    } catch (ServerUnreachableException | SQLException e) {
      LOG.debug("Could not check that the slot was released: {}", e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the initial load, if one runs, and waits for its thread (its readers stop first). */
  private void stopInitialLoad() {
    InitialLoad load = runningLoad;
    if (load != null) {
      load.stop();
    }
    Thread thread = loadThread;
    synchronized (sourceLock) {
      if (thread != null && thread.isAlive() && !sourceStarted) {
        // The load's position may be waiting for Redis: give it up; nothing streams yet.
        synchronizer.stop();
      }
    }
    if (thread != null && thread != Thread.currentThread()) {
      try {
        thread.join(TimeUnit.SECONDS.toMillis(30));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Ends the upkeep, closes the writer (its background evictions included), and only then gives the
   * writer's role up (a standby takes over) and disconnects: nothing this daemon runs writes once
   * another may hold the role.
   */
  private void closeConnections() {
    metrics.loadsAbandoned();
    housekeeper.close();
    chunkWriter.close();
    writer.close();
    lease.close();
    stateStore.close();
    if (ownsMetrics) {
      metrics.close();
    }
  }

  @Override
  public void close() {
    stop();
  }
}
