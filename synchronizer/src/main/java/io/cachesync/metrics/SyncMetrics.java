package io.cachesync.metrics;

import io.cachesync.config.HttpSettings;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.sync.SyncListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The daemon's metrics (Micrometer, exposed in Prometheus's format) and the state its health checks
 * answer from. One per process: it outlives the daemons a run starts (after a lost cache, a lost
 * role, a standby's takeover), so counters never restart within a process. Every series carries the
 * tag {@code synchronizer}; the other tags take a small fixed set of values (table, op, reason,
 * kind, state), never a key or a row's value.
 */
public final class SyncMetrics implements SyncListener, AutoCloseable {
  /** The latency buckets of the two histograms, from 1 ms to 1 minute. */
  private static final Duration[] BUCKETS = {
    Duration.ofMillis(1),
    Duration.ofMillis(2),
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(25),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofMillis(2500),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(30),
    Duration.ofSeconds(60)
  };

  /** The error kinds {@code cachesync_redis_errors_total} names; any other is {@code other}. */
  static final List<String> REDIS_ERROR_KINDS =
      List.of(
          "connection",
          "timeout",
          "readonly",
          "oom",
          "loading",
          "noperm",
          "noscript",
          "busy",
          "masterdown",
          "other");

  private final PrometheusMeterRegistry registry;
  private final Clock clock;
  private final HttpSettings http;
  private final JvmGcMetrics gcMetrics = new JvmGcMetrics();

  private final Map<TableId, Counter[]> applied = new ConcurrentHashMap<>();
  private final Map<TableId, Map<Outcome, Counter>> skipped = new ConcurrentHashMap<>();
  private final Map<TableId, Counter> loadRows = new ConcurrentHashMap<>();
  private final Map<TableId, AtomicLong> loadEstimates = new ConcurrentHashMap<>();
  private final Map<String, Counter> redisErrors = new HashMap<>();
  private final Timer commitToRedis;
  private final Timer batch;
  private final Counter retries;
  private final Counter cacheReloads;
  private final Counter cacheRepairs;

  private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.PREFLIGHT);
  private volatile boolean redisRetrying;
  private volatile boolean postgresUnreachable;
  private volatile long lastProgressNanos;

  /** The commit time (epoch ms) of the oldest change handed over but not acknowledged; 0: none. */
  private volatile long inFlightSinceMillis;

  /**
   * The lag measured when the last batch was acknowledged (its newest change's age), shown between
   * batches: while catching up, batches follow each other and the lag is no less between them. A
   * batch of heartbeats only (the stream is caught up) sets it to 0.
   */
  private volatile long heldLagMillis;

  /** When streaming began (System.nanoTime), and when the last batch was acknowledged. */
  private volatile long streamingSinceNanos;

  private volatile long lastBatchNanos;

  private final AtomicLong sourcePosition = new AtomicLong();
  private final AtomicLong appliedPosition = new AtomicLong();
  private final AtomicLong lastBatchMillis = new AtomicLong();
  private volatile ReplicationSlotUsage slot;
  private final AtomicLong loadsPending = new AtomicLong();

  /** The load running, if any; guarded by {@code this}. */
  private LoadProgress load;

  /**
   * @param tables the mapped tables, whose counters start at 0 so that rates are known from the
   *     first scrape
   */
  public SyncMetrics(String name, List<TableMapping> tables, HttpSettings http, Clock clock) {
    this.clock = clock;
    this.http = http;
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().commonTags("synchronizer", name);
    this.lastProgressNanos = System.nanoTime();
    this.commitToRedis =
        Timer.builder("cachesync.commit.to.redis")
            .description(
                "Seconds from PostgreSQL's commit of a change to Redis's acknowledgement of its"
                    + " write or eviction (streamed changes; clocks of both hosts)")
            .serviceLevelObjectives(BUCKETS)
            .register(registry);
    this.batch =
        Timer.builder("cachesync.batch")
            .description("Seconds from a batch's hand-over by Debezium to Redis's acknowledgement")
            .serviceLevelObjectives(BUCKETS)
            .register(registry);
    this.retries =
        Counter.builder("cachesync.retries")
            .description("Batches retried because Redis could not take them")
            .register(registry);
    this.cacheReloads =
        Counter.builder("cachesync.cache.reloads")
            .description(
                "Times every mapped table was loaded again because Redis lost the cache or the"
                    + " stream could not resume")
            .register(registry);
    this.cacheRepairs =
        Counter.builder("cachesync.cache.repairs")
            .description(
                "Times Redis Cluster masters that lost acknowledged writes were repaired alone, by a"
                    + " resync of their slots")
            .register(registry);
    for (String kind : REDIS_ERROR_KINDS) {
      redisErrors.put(
          kind,
          Counter.builder("cachesync.redis.errors")
              .description("Redis errors that made a batch wait and retry, by kind")
              .tag("kind", kind)
              .register(registry));
    }
    gauges();
    for (TableMapping table : tables) {
      registerTable(table.table());
    }
    new JvmMemoryMetrics().bindTo(registry);
    gcMetrics.bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    // Micrometer's JvmThreadMetrics reads every thread's state on each scrape (getThreadInfo of all
    // threads, once per state): the live and daemon counts say enough for a daemon like this one.
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Gauge.builder("jvm.threads.live", threads, ThreadMXBean::getThreadCount)
        .description("The threads of the JVM, daemon threads included")
        .baseUnit("threads")
        .register(registry);
    Gauge.builder("jvm.threads.daemon", threads, ThreadMXBean::getDaemonThreadCount)
        .description("The daemon threads of the JVM")
        .baseUnit("threads")
        .register(registry);
  }

  private void gauges() {
    Gauge.builder("cachesync.lag", this, SyncMetrics::lagSeconds)
        .description(
            "Seconds since the commit of the oldest change handed to cachesync and not yet in"
                + " Redis; 0 when caught up (changes PostgreSQL has not sent yet show as retained"
                + " WAL)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("cachesync.source.position", sourcePosition, AtomicLong::get)
        .description("LSN of the newest change or heartbeat Debezium handed over, as a number")
        .register(registry);
    Gauge.builder("cachesync.applied.position", appliedPosition, AtomicLong::get)
        .description("LSN of the newest change or heartbeat Redis acknowledged, as a number")
        .register(registry);
    Gauge.builder("cachesync.confirmed.position", this, m -> slotValue(m, Slot.CONFIRMED))
        .description(
            "The replication slot's confirmed_flush_lsn, as a number: PostgreSQL may discard WAL"
                + " before it (read every few seconds)")
        .register(registry);
    Gauge.builder("cachesync.wal.position", this, m -> slotValue(m, Slot.WAL))
        .description("PostgreSQL's pg_current_wal_lsn(), as a number (read every few seconds)")
        .register(registry);
    Gauge.builder("cachesync.slot.retained.wal", this, m -> slotValue(m, Slot.RETAINED))
        .description(
            "Bytes of WAL the replication slot keeps on PostgreSQL's disk: pg_current_wal_lsn()"
                + " minus its restart_lsn (read every few seconds)")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("cachesync.slot.active", this, m -> slotValue(m, Slot.ACTIVE))
        .description("1 while a process streams from the replication slot, 0 otherwise")
        .register(registry);
    Gauge.builder("cachesync.last.batch.timestamp", lastBatchMillis, m -> m.get() / 1000.0)
        .description(
            "Unix time of the last batch or heartbeat Redis acknowledged (heartbeats every 10 s)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("cachesync.loads.pending", loadsPending, AtomicLong::get)
        .description("Loads queued or running: the initial load, resyncs, newly mapped tables")
        .register(registry);
    for (Phase each : Phase.values()) {
      Gauge.builder("cachesync.state", this, m -> m.phase() == each ? 1 : 0)
          .description("1 for the daemon's current state, 0 for the others")
          .tag("state", each.label())
          .register(registry);
    }
  }

  private enum Slot {
    WAL,
    RETAINED,
    CONFIRMED,
    ACTIVE
  }

  private static double slotValue(SyncMetrics metrics, Slot what) {
    ReplicationSlotUsage usage = metrics.slot;
    if (usage == null) {
      return Double.NaN;
    }
    return switch (what) {
      case WAL -> usage.walLsn();
      case RETAINED -> usage.retainedBytes();
      case CONFIRMED -> usage.confirmedLsn();
      case ACTIVE -> usage.active() ? 1 : 0;
    };
  }

  /**
   * Registers a mapped table's meters. Only mapped tables have them: changes to other published
   * tables (cachesync's signal table) are not counted, so a label never takes an unbounded set of
   * values.
   */
  private void registerTable(TableId table) {
    applied.computeIfAbsent(
        table,
        t -> {
          Counter[] counters = new Counter[ChangeEvent.Kind.values().length];
          for (ChangeEvent.Kind kind : ChangeEvent.Kind.values()) {
            counters[kind.ordinal()] =
                Counter.builder("cachesync.changes.applied")
                    .description(
                        "Changes whose write or eviction Redis acknowledged, by table and"
                            + " operation (load: rows of a load)")
                    .tags(Tags.of("table", t.toString(), "op", op(kind)))
                    .register(registry);
          }
          return counters;
        });
    skipped.computeIfAbsent(
        table,
        t -> {
          Map<Outcome, Counter> counters = new EnumMap<>(Outcome.class);
          for (Outcome outcome : Outcome.values()) {
            if (outcome != Outcome.APPLIED) {
              counters.put(
                  outcome,
                  Counter.builder("cachesync.changes.skipped")
                      .description(
                          "Changes not written as such, by table and reason: stale (Redis held a"
                              + " newer version), replayed (already applied), refused (the key"
                              + " cannot be rendered; evicted), failed (Redis could not take the"
                              + " value; evicted)")
                      .tags(Tags.of("table", t.toString(), "reason", reason(outcome)))
                      .register(registry));
            }
          }
          return counters;
        });
    loadEstimates.computeIfAbsent(
        table,
        t -> {
          AtomicLong estimate = new AtomicLong(-1);
          Gauge.builder("cachesync.load.rows.estimated", estimate, AtomicLong::get)
              .description(
                  "Rows PostgreSQL estimates the table holds, for the progress of its running or"
                      + " last load; -1 when unknown")
              .tag("table", t.toString())
              .register(registry);
          return estimate;
        });
    loadRows.computeIfAbsent(
        table,
        t ->
            Counter.builder("cachesync.load.rows")
                .description("Rows loaded into Redis by loads (initial load, resync)")
                .tag("table", t.toString())
                .register(registry));
  }

  private static String op(ChangeEvent.Kind kind) {
    return switch (kind) {
      case SNAPSHOT -> "load";
      case INSERT -> "insert";
      case UPDATE -> "update";
      case DELETE -> "delete";
      case TRUNCATE -> "truncate";
    };
  }

  private static String reason(Outcome outcome) {
    return switch (outcome) {
      case STALE -> "stale";
      case REPLAYED -> "replayed";
      case REFUSED -> "refused";
      case FAILED -> "failed";
      case APPLIED -> throw new IllegalArgumentException("applied is not a reason to skip");
    };
  }

  // ---- what the synchronizer reports

  @Override
  public void batchStarted(List<ChangeEvent> changes, Version position) {
    if (position.lsn() > 0) {
      sourcePosition.accumulateAndGet(position.lsn(), Math::max);
    }
    long oldest = 0;
    for (ChangeEvent change : changes) {
      if (change.kind() != ChangeEvent.Kind.SNAPSHOT && change.committedAtMillis() > 0) {
        oldest = change.committedAtMillis();
        break; // in commit order
      }
    }
    inFlightSinceMillis = oldest;
  }

  @Override
  public void batchApplied(
      List<ChangeEvent> changes, Outcome[] outcomes, Version position, long elapsedNanos) {
    long now = clock.millis();
    long newestCommit = 0;
    // Counted per run of changes to one table, and added once per run: a batch is mostly a few
    // long runs, so a few counter updates per batch rather than one per change.
    TableId runTable = null;
    boolean mapped = false;
    boolean streamed = false;
    long[] run = new long[RUN_SLOTS];
    long loaded = 0;
    Map<TableId, Long> loadedByTable = null;
    for (int i = 0; i < changes.size(); i++) {
      ChangeEvent change = changes.get(i);
      if (change.table() != runTable) {
        addRun(runTable, run);
        runTable = change.table();
        mapped = applied.containsKey(runTable);
      }
      streamed |= change.kind() != ChangeEvent.Kind.SNAPSHOT;
      if (!mapped) {
        continue; // cachesync's signal table
      }
      if (outcomes[i] == Outcome.APPLIED) {
        run[change.kind().ordinal()]++;
      } else {
        run[KINDS + outcomes[i].ordinal()]++;
      }
      if (change.kind() == ChangeEvent.Kind.SNAPSHOT) {
        loaded++;
        if (loadedByTable == null) {
          loadedByTable = new HashMap<>();
        }
        loadedByTable.merge(change.table(), 1L, Long::sum);
      } else if (change.committedAtMillis() > 0 && outcomes[i] == Outcome.APPLIED) {
        commitToRedis.record(Math.max(0, now - change.committedAtMillis()), TimeUnit.MILLISECONDS);
        newestCommit = Math.max(newestCommit, change.committedAtMillis());
      }
    }
    addRun(runTable, run);
    if (loadedByTable != null) {
      loadedByTable.forEach(
          (table, rows) -> {
            Counter counter = loadRows.get(table);
            if (counter != null) {
              counter.increment(rows);
            }
          });
      synchronized (this) {
        if (load != null) {
          load.rowsLoaded(loaded, System.nanoTime());
        }
      }
    }
    batch.record(elapsedNanos, TimeUnit.NANOSECONDS);
    if (position.lsn() > 0) {
      appliedPosition.accumulateAndGet(position.lsn(), Math::max);
    }
    lastBatchMillis.set(now);
    lastBatchNanos = System.nanoTime();
    if (newestCommit > 0) {
      heldLagMillis = Math.max(0, now - newestCommit);
    } else if (!streamed) {
      heldLagMillis = 0; // heartbeats (or a load's rows) only: nothing committed is waiting
    }
    inFlightSinceMillis = 0;
    redisRetrying = false;
    lastProgressNanos = System.nanoTime();
  }

  private static final int KINDS = ChangeEvent.Kind.values().length;

  /** A run's counts: applied ones by kind, then skipped ones by outcome. */
  private static final int RUN_SLOTS = KINDS + Outcome.values().length;

  /**
   * Counts rows the initial load wrote outside the stream's batches ({@link
   * io.cachesync.load.InitialLoad}); called from its readers' threads.
   */
  public void rowsLoaded(TableId table, long rows) {
    Counter[] appliedCounters = applied.get(table);
    if (appliedCounters != null) {
      appliedCounters[ChangeEvent.Kind.SNAPSHOT.ordinal()].increment(rows);
    }
    Counter counter = loadRows.get(table);
    if (counter != null) {
      counter.increment(rows);
    }
    synchronized (this) {
      if (load != null) {
        load.rowsLoaded(rows, System.nanoTime());
      }
    }
    lastProgressNanos = System.nanoTime();
  }

  /**
   * Adds a run's counts to its table's counters (none for a table that is not mapped); clears it.
   */
  private void addRun(TableId table, long[] run) {
    if (table == null) {
      return;
    }
    Counter[] appliedCounters = applied.get(table);
    Map<Outcome, Counter> skippedCounters = skipped.get(table);
    for (int slot = 0; slot < RUN_SLOTS; slot++) {
      if (run[slot] > 0 && appliedCounters != null) {
        if (slot < KINDS) {
          appliedCounters[slot].increment(run[slot]);
        } else {
          skippedCounters.get(Outcome.values()[slot - KINDS]).increment(run[slot]);
        }
      }
      run[slot] = 0;
    }
  }

  @Override
  public void retrying(RedisUnavailableException error) {
    retries.increment();
    redisErrors.get(RedisErrorKind.of(error)).increment();
    redisRetrying = true;
    lastProgressNanos = System.nanoTime();
  }

  // ---- what the daemon reports

  /**
   * The daemon moved to {@code next} (waiting on Redis or PostgreSQL while streaming is derived).
   */
  public void phase(Phase next) {
    if (phase.getAndSet(next) != next) {
      lastProgressNanos = System.nanoTime();
      if (next == Phase.STREAMING) {
        streamingSinceNanos = System.nanoTime();
      }
    }
    if (next != Phase.STREAMING && next != Phase.LOADING) {
      redisRetrying = false;
      inFlightSinceMillis = 0;
      heldLagMillis = 0;
    }
  }

  /**
   * What the daemon is doing: its phase, or waiting for Redis (a batch is being retried) or for
   * PostgreSQL (it cannot be reached) while loading or streaming.
   */
  public Phase phase() {
    Phase base = phase.get();
    if (base == Phase.STREAMING || base == Phase.LOADING) {
      if (redisRetrying) {
        return Phase.WAITING_FOR_REDIS;
      }
      if (postgresUnreachable) {
        return Phase.WAITING_FOR_POSTGRES;
      }
    }
    return base;
  }

  /** The slot as last read from PostgreSQL; empty when it could not be read. */
  public void slot(ReplicationSlotUsage usage) {
    slot = usage;
    postgresUnreachable = false;
  }

  /**
   * The slot could not be read: its gauges show nothing until it can.
   *
   * @param unreachable whether PostgreSQL cannot serve at all (the daemon then waits for it), not
   *     merely refused the statement
   */
  public void slotUnknown(boolean unreachable) {
    slot = null;
    postgresUnreachable = unreachable;
  }

  /** Every mapped table is loaded again because Redis lost the cache or the stream's position. */
  public void cacheReloaded() {
    cacheReloads.increment();
  }

  /** Redis Cluster masters that lost writes are repaired alone (a resync of their slots). */
  public void cacheRepaired() {
    cacheRepairs.increment();
  }

  /** A load was queued; it runs once streaming runs and no other load does. */
  public void loadQueued() {
    loadsPending.incrementAndGet();
  }

  /**
   * A load starts: its progress is logged at most every 10 s until {@link #loadEnded}.
   *
   * @param estimates rows PostgreSQL estimates per table, -1 when unknown
   */
  public synchronized void loadStarted(String name, Map<TableId, Long> estimates) {
    estimates.forEach(
        (table, estimate) -> {
          AtomicLong gauge = loadEstimates.get(table);
          if (gauge != null) {
            gauge.set(estimate);
          }
        });
    load = new LoadProgress(name, estimates, System.nanoTime());
  }

  /** The running load ended (done, or given up when the daemon stopped). */
  public synchronized void loadEnded() {
    load = null;
    loadsPending.updateAndGet(pending -> Math.max(0, pending - 1));
  }

  /** The daemon stopped: the loads it had queued or running are queued again by the next one. */
  public synchronized void loadsAbandoned() {
    load = null;
    loadsPending.set(0);
  }

  /** Rows the running load applied so far; 0 when none runs. */
  public synchronized long loadRowsSoFar() {
    return load == null ? 0 : load.rows();
  }

  // ---- what the endpoint asks

  public double lagSeconds() {
    long since = inFlightSinceMillis;
    return since == 0 ? heldLagMillis / 1000.0 : Math.max(0, clock.millis() - since) / 1000.0;
  }

  public Health.Verdict live() {
    Duration since = Duration.ofNanos(System.nanoTime() - lastProgressNanos);
    return Health.live(phase(), since, http.stallDeadline(), lagSeconds());
  }

  public Health.Verdict ready() {
    long last = lastBatchNanos;
    Optional<Duration> sinceBatch =
        last != 0 && last - streamingSinceNanos > 0
            ? Optional.of(Duration.ofNanos(System.nanoTime() - last))
            : Optional.empty();
    return Health.ready(phase(), lagSeconds(), sinceBatch, http.readyLag());
  }

  /** The metrics in Prometheus's text format. */
  public String scrape() {
    return registry.scrape();
  }

  /** For tests and for binding more meters. */
  public MeterRegistry registry() {
    return registry;
  }

  @Override
  public void close() {
    gcMetrics.close();
    registry.close();
  }
}
