package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.WriteHistory;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A writer paused (a long GC, SIGSTOP) past its lease while a standby takes the role over writes
 * nothing once it resumes: during an initial load the replication slot fences nothing, so the lease
 * must.
 */
class PausedWriterIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";
  private static final String LEASE = "cachesync:" + SyncHarness.NAME + ":writer";
  private static final int ROWS = 300_000;
  private static final Duration WAIT = Duration.ofSeconds(40);

  private SyncHarness harness;
  private WriteHistory history;
  private DaemonProcess paused;

  @BeforeEach
  void setUp() {
    harness = new SyncHarness("pausedwriter");
    harness.sql(
        "CREATE TABLE items (id int PRIMARY KEY, value int)",
        "INSERT INTO items SELECT i, 0 FROM generate_series(1, " + ROWS + ") AS i");
    history = new WriteHistory(harness.redisServer);
  }

  @AfterEach
  void tearDown() {
    if (paused != null) {
      paused.close();
    }
    history.close();
    harness.close();
  }

  @Test
  void pausedWriter_resumesAfterAnotherTookTheRole_writesNothing() throws Exception {
    paused = new DaemonProcess(harness.config(MAPPING)).start();
    await("the initial load under way")
        .atMost(WAIT)
        .until(() -> harness.redis.keys("item:*").size() >= 1_000);
    Set<String> pausedClients = writerClients();
    assertThat(pausedClients).as("the paused daemon's writer connections").isNotEmpty();

    // Paused with a batch in hand: Redis holds its writes back (CLIENT PAUSE WRITE) until the
    // daemon is stopped, then runs them; the daemon reads the reply only once it resumes.
    harness.redisServer.command("CLIENT", "PAUSE", "60000", "WRITE");
    await("the daemon's writer waiting for Redis to take a write")
        .atMost(WAIT)
        .until(() -> blocked(pausedClients));
    paused.pause();
    harness.redisServer.command("CLIENT", "UNPAUSE");
    assertThat(harness.redis.keys("item:*"))
        .as("paused in the middle of its initial load (else make the table bigger)")
        .hasSizeLessThan(ROWS);

    await("the paused daemon's lease expired")
        .atMost(WAIT)
        .until(() -> harness.redis.redis().exists(LEASE) == 0);
    harness.start(MAPPING);
    String newHolder = harness.redis.redis().get(LEASE);
    history.awaitCaughtUp(WAIT);
    long before = history.writesBy(pausedClients);
    assertThat(before).as("the paused daemon's writes are seen, by its addresses").isPositive();

    paused.resume();
    // It stops for the lost role, or for the state the new holder reset: either way, for good.
    try {
      await("the resumed daemon stopped")
          .atMost(WAIT)
          .until(() -> paused.log().contains("State STOPPING -> STOPPED"));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError("the resumed daemon's log ends:\n" + paused.tail(), e);
    }
    history.awaitCaughtUp(WAIT);

    assertThat(history.writesBy(pausedClients) - before)
        .as("writes by the resumed daemon after the takeover; its log ends:%n%s", paused.tail())
        .isZero();
    assertThat(harness.redis.redis().get(LEASE)).isEqualTo(newHolder);
    System.out.printf(
        "PausedWriterIT: the resumed daemon wrote nothing after the takeover (%d writes before)%n",
        before);
  }

  /** Whether one of these clients waits for Redis to run its command (CLIENT LIST flag b). */
  private boolean blocked(Set<String> clients) {
    return harness
        .redis
        .redis()
        .clientList()
        .lines()
        .anyMatch(
            line -> clients.contains(field(line, "addr")) && field(line, "flags").contains("b"));
  }

  /**
   * The addresses of the writer's and the initial load's connections Redis knows now (only the
   * first daemon's so far).
   */
  private Set<String> writerClients() {
    return harness
        .redis
        .redis()
        .clientList()
        .lines()
        // The stream's writer and the initial load's lanes.
        .filter(
            line ->
                line.contains(" name=cachesync-writer-") || line.contains(" name=cachesync-load-"))
        .map(line -> field(line, "addr"))
        .collect(Collectors.toSet());
  }

  private static String field(String line, String name) {
    for (String part : line.split(" ")) {
      if (part.startsWith(name + "=")) {
        return part.substring(name.length() + 1);
      }
    }
    throw new IllegalStateException("no " + name + " in " + line);
  }
}
