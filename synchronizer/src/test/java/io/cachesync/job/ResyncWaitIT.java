package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import io.lettuce.core.SetArgs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code cachesync resync} while the daemon reloads, when the daemon dies holding the request, and
 * when nothing makes progress within {@code --timeout}.
 */
class ResyncWaitIT {
  private static final int BIG = 100_000;
  private static final Duration WAIT = Duration.ofSeconds(50);
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n"
          + "  - table: public.users\n    key: \"user:{id}\"\n";

  private SyncHarness harness;
  private Path config;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("resyncwait");
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text)",
        "INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, " + BIG + ") i",
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 500) i");
    config = harness.config(MAPPING);
    daemon = new DaemonProcess(config);
  }

  @AfterEach
  void tearDown() {
    daemon.close();
    harness.close();
  }

  private CompletableFuture<CommandRun> resync(String... extra) {
    List<String> arguments =
        new ArrayList<>(List.of("resync", "--config", config.toString(), "--quiet"));
    arguments.addAll(List.of(extra));
    return CompletableFuture.supplyAsync(() -> CommandRun.of(arguments.toArray(String[]::new)));
  }

  @Test
  void resync_startedDuringTheInitialLoad_waitsForItAndExitsZero() throws Exception {
    daemon.start();
    daemon.awaitLog("First start: loading every mapped table", WAIT);
    assertThat(daemon.log()).doesNotContain("Initial load done");
    harness.redis.redis().hset("user:9999", "name", "orphan");

    CommandRun run = resync("--table", "public.users").get(WAIT.toSeconds(), TimeUnit.SECONDS);

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).contains("public.users: 500 rows").contains("1 orphan keys removed");
    assertThat(daemon.log()).contains("Initial load done");
    assertThat(daemon.count("loading every mapped table")).as(daemon.decisions(10)).isEqualTo(1);
    assertThat(harness.redis.keys("item:*")).hasSize(BIG);
    System.out.println("ResyncWaitIT: a resync started during the initial load waited, exit 0");
  }

  @Test
  void resync_daemonKilledRightAfterTakingTheRequest_theRestartedDaemonFinishesIt()
      throws Exception {
    daemon.start();
    daemon.awaitLog("Initial load done", WAIT);
    harness.redis.redis().del("item:5");

    CompletableFuture<CommandRun> run = resync("--table", "public.items");
    daemon.awaitLog("requested for [public.items]", WAIT);
    daemon.kill();
    // What this test is about: the request was taken and not finished when the daemon died.
    assertThat(harness.redis.redis().llen("cachesync:it:resync:taken"))
        .as(
            "the request still taken, its load not done when the daemon was killed (else make"
                + " items bigger): %n%s",
            daemon.tail())
        .isOne();
    daemon.start();

    CommandRun done = run.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(done.exitCode()).as(done.output() + "\n" + daemon.tail()).isEqualTo(ExitCode.OK);
    assertThat(done.out()).contains("resync done in").contains("public.items: ");
    assertThat(daemon.log()).contains("1 resync requests taken by an earlier daemon");
    assertThat(harness.redis.redis().exists("item:5")).isOne();
    assertThat(harness.redis.redis().llen("cachesync:it:resync:taken")).isZero();
    System.out.println(
        "ResyncWaitIT: the request of a daemon killed after taking it was finished after restart");
  }

  @Test
  void resync_noProgressWithinTheTimeout_exits124AndSaysTheRequestStaysQueued() throws Exception {
    // A daemon that holds the writer's role but takes no request (hung, or cut off from
    // PostgreSQL).
    harness
        .redis
        .redis()
        .set("cachesync:it:writer", "12345@elsewhere/hung", SetArgs.Builder.px(60_000));

    long started = System.nanoTime();
    CommandRun run = resync("--timeout", "3s").get(WAIT.toSeconds(), TimeUnit.SECONDS);
    Duration took = Duration.ofNanos(System.nanoTime() - started);

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.TIMED_OUT);
    assertThat(run.err())
        .contains("resync not done within 3 s (--timeout): resync request ")
        .contains("stays queued in Redis (cachesync:it:resync:");
    assertThat(took).isLessThan(Duration.ofSeconds(20));
    assertThat(harness.redis.redis().llen("cachesync:it:resync:queue")).isOne();
    System.out.println("ResyncWaitIT: no progress within --timeout 3s -> exit 124");
  }
}
