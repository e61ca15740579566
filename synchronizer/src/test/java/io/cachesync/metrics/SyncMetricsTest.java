package io.cachesync.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.HttpSettings;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.Row;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.sync.SyncListener.Outcome;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the metrics make of the batches the synchronizer reports, without servers. */
class SyncMetricsTest {
  private static final TableId USERS = TableId.parse("public.users");
  private static final TableId SIGNALS = TableId.parse("cachesync.signals");
  private static final long NOW = 1_800_000_000_000L;

  private final SyncMetrics metrics =
      new SyncMetrics(
          "shop",
          List.of(
              new TableMapping(
                  USERS,
                  KeyTemplate.parse("user:{id}"),
                  ValueFormat.HASH,
                  SyncMode.WRITE,
                  List.of(),
                  Optional.empty())),
          HttpSettings.DEFAULT,
          Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC));

  @AfterEach
  void tearDown() {
    metrics.close();
  }

  private static ChangeEvent change(TableId table, ChangeEvent.Kind kind, long committedAt) {
    return new ChangeEvent(table, kind, Row.EMPTY, Row.EMPTY, new Version(10, 20), committedAt);
  }

  private double value(String name, String... tags) {
    return metrics.registry().get(name).tags(tags).meter().measure().iterator().next().getValue();
  }

  @Test
  void batchApplied_eachOutcome_countsEachChangeOnceUnderItsTableAndOperation() {
    List<ChangeEvent> batch =
        List.of(
            change(USERS, ChangeEvent.Kind.INSERT, NOW - 40),
            change(USERS, ChangeEvent.Kind.INSERT, NOW - 40),
            change(USERS, ChangeEvent.Kind.UPDATE, NOW - 30),
            change(USERS, ChangeEvent.Kind.DELETE, NOW - 30),
            change(USERS, ChangeEvent.Kind.UPDATE, NOW - 20),
            change(USERS, ChangeEvent.Kind.INSERT, NOW - 20),
            change(USERS, ChangeEvent.Kind.INSERT, NOW - 20),
            change(USERS, ChangeEvent.Kind.SNAPSHOT, 0),
            change(SIGNALS, ChangeEvent.Kind.INSERT, NOW - 10));
    Outcome[] outcomes = {
      Outcome.APPLIED,
      Outcome.APPLIED,
      Outcome.APPLIED,
      Outcome.APPLIED,
      Outcome.STALE,
      Outcome.REPLAYED,
      Outcome.FAILED,
      Outcome.APPLIED,
      Outcome.APPLIED
    };

    metrics.batchStarted(batch, new Version(10, 20));
    assertThat(metrics.lagSeconds()).isEqualTo(0.04);
    metrics.batchApplied(batch, outcomes, new Version(10, 20), 5_000_000);

    assertThat(value("cachesync.changes.applied", "table", "public.users", "op", "insert"))
        .isEqualTo(2);
    assertThat(value("cachesync.changes.applied", "table", "public.users", "op", "update"))
        .isEqualTo(1);
    assertThat(value("cachesync.changes.applied", "table", "public.users", "op", "delete"))
        .isEqualTo(1);
    assertThat(value("cachesync.changes.applied", "table", "public.users", "op", "load"))
        .isEqualTo(1);
    assertThat(value("cachesync.changes.skipped", "table", "public.users", "reason", "stale"))
        .isEqualTo(1);
    assertThat(value("cachesync.changes.skipped", "table", "public.users", "reason", "replayed"))
        .isEqualTo(1);
    assertThat(value("cachesync.changes.skipped", "table", "public.users", "reason", "failed"))
        .isEqualTo(1);
    assertThat(value("cachesync.load.rows", "table", "public.users")).isEqualTo(1);
    // Only applied streamed changes are timed; the load's row and unmapped tables are not.
    assertThat(metrics.registry().get("cachesync.commit.to.redis").timer().count()).isEqualTo(4);
    assertThat(
            metrics
                .registry()
                .find("cachesync.changes.applied")
                .tag("table", "cachesync.signals")
                .meters())
        .isEmpty();
    // Between batches the lag measured at the last one holds (its newest applied change, 30 ms)...
    assertThat(metrics.lagSeconds()).isEqualTo(0.03);
    // ... until a batch of heartbeats only says the stream is caught up.
    metrics.batchApplied(List.of(), new Outcome[0], new Version(10, 30), 1);
    assertThat(metrics.lagSeconds()).isZero();
    assertThat(metrics.scrape())
        .contains(
            "cachesync_changes_applied_total{op=\"insert\",synchronizer=\"shop\",table=\"public.users\"} 2.0");
  }

  @Test
  void ready_streamingStarted_notReadyUntilABatchOrHeartbeatWentThrough() {
    metrics.phase(Phase.STREAMING);
    assertThat(metrics.ready().reason()).isEqualTo("nothing streamed yet");

    metrics.batchApplied(List.of(), new Outcome[0], new Version(10, 20), 1);
    assertThat(metrics.ready().healthy()).isTrue();
  }

  @Test
  void retrying_whileStreaming_waitsForRedisUntilABatchIsApplied() {
    metrics.phase(Phase.STREAMING);
    metrics.retrying(
        new RedisUnavailableException(
            "Redis cannot take the batch", new IllegalStateException("READONLY You can't write")));

    assertThat(metrics.phase()).isEqualTo(Phase.WAITING_FOR_REDIS);
    assertThat(value("cachesync.redis.errors", "kind", "readonly")).isEqualTo(1);
    assertThat(value("cachesync.retries")).isEqualTo(1);
    assertThat(metrics.ready().reason()).isEqualTo("redis unavailable");
    assertThat(metrics.live().healthy()).isTrue();

    metrics.batchApplied(List.of(), new Outcome[0], new Version(10, 20), 1);
    assertThat(metrics.phase()).isEqualTo(Phase.STREAMING);
    assertThat(metrics.ready().healthy()).isTrue();
  }

  @Test
  void postgresUnreachable_whileStreaming_waitsForPostgresUntilTheSlotIsReadAgain() {
    metrics.phase(Phase.STREAMING);
    metrics.slotUnknown(true);
    assertThat(metrics.phase()).isEqualTo(Phase.WAITING_FOR_POSTGRES);
    assertThat(value("cachesync.slot.retained.wal")).isNaN();
    metrics.slotUnknown(false);
    assertThat(metrics.phase()).as("a refused statement is no outage").isEqualTo(Phase.STREAMING);

    metrics.slot(new ReplicationSlotUsage(5000, 1000, 3000, true));
    assertThat(metrics.phase()).isEqualTo(Phase.STREAMING);
    assertThat(value("cachesync.slot.retained.wal")).isEqualTo(4000);
    assertThat(value("cachesync.confirmed.position")).isEqualTo(3000);
  }

  @Test
  void loads_queuedStartedEnded_pendingCountsThemAndEstimatesAreKept() {
    metrics.loadQueued();
    metrics.loadQueued();
    metrics.loadStarted("resync-1", Map.of(USERS, 1234L, SIGNALS, 7L));
    assertThat(value("cachesync.loads.pending")).isEqualTo(2);
    assertThat(value("cachesync.load.rows.estimated", "table", "public.users")).isEqualTo(1234);

    metrics.loadEnded();
    assertThat(value("cachesync.loads.pending")).isEqualTo(1);
    metrics.loadsAbandoned();
    assertThat(value("cachesync.loads.pending")).isZero();
  }

  @Test
  void redisErrorKind_ofLettuceFailures_isOneOfTheFixedKinds() {
    assertThat(RedisErrorKind.of(new RuntimeException("x", new java.io.IOException("reset"))))
        .isEqualTo("connection");
    assertThat(RedisErrorKind.of(new IllegalStateException("OOM command not allowed")))
        .isEqualTo("oom");
    assertThat(RedisErrorKind.of(new IllegalStateException("WEIRDCODE something")))
        .isEqualTo("other");
    assertThat(RedisErrorKind.of(new java.util.concurrent.TimeoutException())).isEqualTo("timeout");
  }

  @Test
  void health_eachPhase_answersAsTheReadmeSays() {
    Duration deadline = Duration.ofSeconds(120);
    assertThat(Health.live(Phase.STREAMING, Duration.ofSeconds(121), deadline, 0).healthy())
        .isFalse();
    assertThat(Health.live(Phase.STREAMING, Duration.ofSeconds(119), deadline, 0).healthy())
        .isTrue();
    assertThat(Health.live(Phase.WAITING_FOR_REDIS, Duration.ofHours(1), deadline, 0).healthy())
        .isTrue();
    assertThat(Health.live(Phase.STANDBY, Duration.ofHours(1), deadline, 0).healthy()).isTrue();
    Optional<Duration> justNow = Optional.of(Duration.ofSeconds(1));
    Duration maxLag = Duration.ofSeconds(30);
    assertThat(Health.ready(Phase.STREAMING, 42.4, justNow, maxLag).json())
        .isEqualTo(
            "{\"status\":\"DOWN\",\"state\":\"streaming\",\"lagSeconds\":42.4,\"reason\":\"lag 42 s\"}");
    assertThat(Health.ready(Phase.STREAMING, 29.9, justNow, maxLag).healthy()).isTrue();
    assertThat(Health.ready(Phase.STREAMING, 0, Optional.empty(), maxLag).reason())
        .isEqualTo("nothing streamed yet");
    assertThat(
            Health.ready(Phase.STREAMING, 0, Optional.of(Duration.ofSeconds(51)), maxLag).reason())
        .isEqualTo("nothing streamed for 51 s");
    assertThat(Health.ready(Phase.LOADING, 0, justNow, maxLag).reason()).isEqualTo("loading");
    assertThat(Health.ready(Phase.STARTING, 0, justNow, maxLag).reason()).isEqualTo("starting");
    assertThat(Health.ready(Phase.STANDBY, 0, justNow, maxLag).reason()).isEqualTo("standby");
  }
}
