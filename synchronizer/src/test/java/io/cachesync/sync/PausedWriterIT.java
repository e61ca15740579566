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
    paused.pause();
    assertThat(harness.redis.keys("item:*"))
        .as("paused in the middle of its initial load (else make the table bigger)")
        .hasSizeLessThan(ROWS);
    assertThat(pausedClients).as("the paused daemon's writer connections").isNotEmpty();

    await("the paused daemon's lease expired")
        .atMost(WAIT)
        .until(() -> harness.redis.redis().exists(LEASE) == 0);
    harness.start(MAPPING);
    String newHolder = harness.redis.redis().get(LEASE);
    history.awaitCaughtUp(WAIT);
    long before = history.writeCommandsFrom(pausedClients);

    paused.resume();
    await("the resumed daemon noticing the role is lost")
        .atMost(WAIT)
        .until(() -> paused.log().contains("Lost the writer's role"));
    await("the resumed daemon stopped")
        .atMost(WAIT)
        .until(() -> paused.log().contains("State STOPPING -> STOPPED"));
    history.awaitCaughtUp(WAIT);

    assertThat(history.writeCommandsFrom(pausedClients) - before)
        .as("writes by the resumed daemon after the takeover:%n%s", paused.decisions(10))
        .isZero();
    assertThat(harness.redis.redis().get(LEASE)).isEqualTo(newHolder);
    System.out.println("PausedWriterIT: the resumed daemon wrote nothing after the takeover");
  }

  /** The addresses of the writer connections Redis knows now (only the first daemon's so far). */
  private Set<String> writerClients() {
    return harness
        .redis
        .redis()
        .clientList()
        .lines()
        .filter(line -> line.contains(" name=cachesync-writer-"))
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
