package io.cachesync;

import io.cachesync.config.Configuration;
import io.cachesync.job.OrphanSweeper;
import io.cachesync.job.StreamFence;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.redis.HashSlots;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.source.LoadRequest;
import io.cachesync.source.PostgresConnector;
import io.cachesync.state.StateStore;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's periodic upkeep, once a second on its own thread: notices a lost dataset, runs the
 * orphan sweep a reload recorded, and hands the resync requests queued in Redis to the source.
 */
final class Housekeeper implements AutoCloseable {
  /** Logs as the daemon, whose lines these were: operators' filters on the category still hold. */
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  /**
   * The longest pause between two tries of a failed sweep, and between two lines saying that the
   * sweep waits for the stream.
   */
  private static final Duration SWEEP_RETRY = Duration.ofSeconds(30);

  /**
   * How long after a failed sweep it is tried again: 1 s, then twice as long each time, up to 30 s.
   * The keys of deleted rows stay in Redis until a sweep passes: a Redis Cluster down for a moment
   * (a failover) should not keep them there for the full interval.
   */
  private final Backoff sweepRetry = new Backoff(Duration.ofSeconds(1), SWEEP_RETRY);

  /**
   * How long the sweep waits for the stream to apply what committed before it found a row gone (see
   * {@link StreamFence}): a stream that is not behind gets there within a batch. Longer, it would
   * hold up the other upkeep; a stream that far behind is waited for at the next try.
   */
  private static final Duration STREAM_WAIT = Duration.ofSeconds(15);

  /** How long a close waits for the task in progress. */
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

  private final Configuration configuration;
  private final StateStore stateStore;
  private final String epoch;
  private final String owner;
  private final Consumer<String> onStateLost;
  private final BooleanSupplier initialLoadRunning;
  private final BooleanSupplier stopping;
  private final Consumer<LoadRequest> load;
  private final ScheduledExecutorService poller =
      Executors.newSingleThreadScheduledExecutor(
          runnable -> {
            Thread thread = new Thread(runnable, "cachesync-housekeeper");
            thread.setDaemon(true);
            return thread;
          });

  /**
   * The fence the stream must pass before the sweep a reload recorded starts (see {@link
   * #sweepIfNeeded}); -1 until taken.
   */
  private long sweepAfter = -1;

  /** When the sweep's wait for the stream is logged next ({@link System#nanoTime()}). */
  private long nextWaitingLog = System.nanoTime();

  /** When a failed sweep may be tried again ({@link System#nanoTime()}). */
  private long nextSweep = System.nanoTime();

  /** Whether the last check found the epoch gone or changed. */
  private boolean epochMissing;

  /**
   * @param epoch the epoch of the state the daemon writes under (see {@link StateStore#epoch()})
   * @param owner the daemon's writer's lease owner: only while it holds the lease are requests
   *     taken
   * @param onStateLost told, with the reason, when the dataset was lost
   * @param initialLoadRunning whether the initial load of every table still runs (no sweep then)
   * @param stopping whether the daemon is stopping (a sweep cut short is not a failure then)
   * @param load takes a queued resync request
   */
  Housekeeper(
      Configuration configuration,
      StateStore stateStore,
      String epoch,
      String owner,
      Consumer<String> onStateLost,
      BooleanSupplier initialLoadRunning,
      BooleanSupplier stopping,
      Consumer<LoadRequest> load) {
    this.configuration = configuration;
    this.stateStore = stateStore;
    this.epoch = epoch;
    this.owner = owner;
    this.onStateLost = onStateLost;
    this.initialLoadRunning = initialLoadRunning;
    this.stopping = stopping;
    this.load = load;
  }

  void start() {
    poller.scheduleWithFixedDelay(this::run, 1, 1, TimeUnit.SECONDS);
  }

  private void run() {
    try {
      checkState();
      sweepIfNeeded();
      takeResyncs();
    } catch (Throwable e) {
      // A task that throws is never run again: the upkeep would end without a word.
      LOG.error("The daemon's upkeep failed: {}; trying again in 1 s", e.toString(), e);
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
        onStateLost.accept(
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
    if (initialLoadRunning.getAsBoolean() || System.nanoTime() < nextSweep) {
      return;
    }
    try {
      if (stateStore.sweepNeeded()) {
        // After a reload the stream is behind: what changed during the load. The sweep starts
        // once the stream has passed a fence taken now, looked at each second rather than waited
        // for, so that the other upkeep goes on meanwhile; then its own waits are short.
        if (sweepAfter < 0) {
          try (Connection connection =
              new PostgresConnector(configuration.settings().postgres()).open("orphan sweep")) {
            sweepAfter = StreamFence.take(connection);
          }
          return;
        }
        if (!StreamFence.passed(stateStore.applied(), sweepAfter)) {
          if (System.nanoTime() >= nextWaitingLog) {
            nextWaitingLog = System.nanoTime() + SWEEP_RETRY.toNanos();
            LOG.info(
                "The sweep after the reload waits for the stream to pass {}: it applied up to {}",
                Version.lsnText(sweepAfter),
                stateStore.applied().map(Version::lsnText).orElse("nothing since the load"));
          }
          return;
        }
        removeOrphans();
        stateStore.sweepDone();
      }
      sweepAfter = -1;
      sweepRetry.reset();
    } catch (Exception e) {
      sweepAfter = -1;
      if (stopping.getAsBoolean()) {
        // Stopping interrupts the poller; the sweep stays recorded in Redis for the next start.
        LOG.info("Stopping before the orphan sweep finished; the next start runs it");
        return;
      }
      Duration delay = sweepRetry.next();
      nextSweep = System.nanoTime() + delay.toNanos();
      LOG.warn(
          "Could not remove the keys of rows deleted before the reload ({}); trying again in {} s",
          e.toString(),
          delay.toSeconds());
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
        sweeper.find(
            table,
            new StreamFence(stateStore, STREAM_WAIT),
            (found, fence) ->
                evicted[0] +=
                    redis.evictBehindTheStream(
                        found, configuration.settings().stateKeyPrefix(), fence));
      }
      LOG.info("Reload done; removed {} keys of rows deleted meanwhile", evicted[0]);
    }
  }

  /**
   * The load of a resync request: of every key of its tables, or only of the keys of the hash slots
   * its {@code slots} field names (the repair of a Redis Cluster master). A field that cannot be
   * read loads every key: more writes, nothing missed.
   */
  private static LoadRequest request(String id, Set<TableId> tables, String slots) {
    if (slots.isEmpty()) {
      LOG.info("Resync {} requested for {}", id, tables);
      return new LoadRequest(id, tables);
    }
    try {
      HashSlots filter = HashSlots.parse(slots);
      LOG.info("Resync {} requested for {}, writing the keys of slots {}", id, tables, slots);
      return new LoadRequest(id, tables, filter::containsKey);
    } catch (IllegalArgumentException e) {
      LOG.warn("Resync {}: {}; writing the keys of every slot", id, e.getMessage());
      return new LoadRequest(id, tables);
    }
  }

  /**
   * Hands the resync requests queued in Redis (by {@code cachesync resync}) to the source. Each
   * stays recorded as taken until its load is done (see {@link StateStore#takeResync(String)}).
   */
  private void takeResyncs() {
    Optional<Map.Entry<String, Set<String>>> request;
    try {
      request = stateStore.takeResync(owner);
    } catch (RuntimeException e) {
      LOG.warn("Could not read resync requests ({}); trying again in 1 s", e.getMessage());
      return;
    }
    while (request.isPresent()) {
      String id = request.get().getKey();
      try {
        Set<TableId> tables =
            request.get().getValue().stream().map(TableId::parse).collect(Collectors.toSet());
        stateStore.resyncStatus(id, "taken", Map.of());
        load.accept(request(id, tables, stateStore.resync(id).getOrDefault("slots", "")));
      } catch (RuntimeException e) {
        putBack(id, e);
        return;
      }
      try {
        request = stateStore.takeResync(owner);
      } catch (RuntimeException e) {
        LOG.warn("Could not read resync requests ({}); trying again in 1 s", e.getMessage());
        return;
      }
    }
  }

  /** A request taken but not handed to a load goes back to the head of the queue. */
  private void putBack(String id, RuntimeException cause) {
    try {
      stateStore.returnResync(id);
      LOG.warn(
          "Could not start resync {} ({}); queued again, tried again in 1 s",
          id,
          cause.getMessage());
    } catch (RuntimeException e) {
      LOG.warn(
          "Could not start resync {} ({}), nor queue it again ({}): it stays among the requests"
              + " taken until the next daemon to take the writer's role queues it again",
          id,
          cause.getMessage(),
          e.getMessage());
    }
  }

  /**
   * Stops the upkeep and waits for the task in progress to end; a sweep in progress is interrupted
   * and runs again on the next start.
   */
  @Override
  public void close() {
    poller.shutdownNow();
    try {
      if (!poller.awaitTermination(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.warn("The daemon's upkeep did not end within {} s", CLOSE_WAIT.toSeconds());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
