package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.config.RedisSettings;
import io.cachesync.redis.LettuceStateStore;
import io.cachesync.testing.ClosedPort;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.SyncHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code cachesync status} through one synchronizer's life, sharing one daemon: before it ever ran,
 * with a resync queued, streaming, killed with SIGKILL, and with either server unreachable.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StatusIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MAPPING =
      "tables:\n"
          + "  - table: public.users\n    key: \"user:{id}\"\n"
          + "  - table: public.orders\n    key: \"order:{id}\"\n    format: json\n";

  private SyncHarness harness;
  private Path config;
  private DaemonProcess daemon;

  @BeforeAll
  void setUp() {
    harness = new SyncHarness("status");
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 7) i",
        "CREATE TABLE orders (id int PRIMARY KEY, total numeric)",
        "INSERT INTO orders SELECT i, i * 10 FROM generate_series(1, 3) i");
    // Keys of no mapped table, which no count may include.
    harness.redis.redis().set("other:1", "x");
    harness.redis.redis().set("users:2", "x");
    config = harness.config(MAPPING);
    daemon = new DaemonProcess(config);
  }

  @AfterAll
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    if (harness != null) {
      harness.close();
    }
  }

  private CommandRun status(String... extra) {
    List<String> arguments = new ArrayList<>(List.of("status", "--config", config.toString()));
    arguments.addAll(List.of(extra));
    return CommandRun.of(arguments.toArray(String[]::new));
  }

  private static List<String> codes(JsonNode json) {
    List<String> codes = new ArrayList<>();
    json.path("reasons").forEach(reason -> codes.add(reason.path("code").asText()));
    return codes;
  }

  @Test
  @Order(1)
  void status_beforeAnyDaemonRan_exitsOneNamingTheMissingSlotAndDaemon() throws Exception {
    CommandRun run = status();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.ATTENTION);
    assertThat(run.out())
        .startsWith("cachesync it: ATTENTION")
        .contains("  - replication slot cachesync_it does not exist")
        .contains("  - no daemon holds the writer's role (cachesync:it:writer is absent)")
        .contains("  - mapped tables not loaded yet: public.orders, public.users")
        .contains("slot      cachesync_it: does not exist")
        .contains("writer    no daemon holds the role");
    assertThat(run.out().lines().count()).isLessThanOrEqualTo(20);

    JsonNode json = JSON.readTree(status("--json").out());
    assertThat(json.path("verdict").asText()).isEqualTo("attention");
    assertThat(codes(json))
        .containsExactly("slot_missing", "no_writer", "no_position", "tables_not_loaded");
    assertThat(json.path("slot").path("exists").asBoolean()).isFalse();
    assertThat(json.path("position").path("stored").asBoolean()).isFalse();
    assertThat(json.path("writer").path("held").asBoolean()).isFalse();
  }

  @Test
  @Order(2)
  void status_resyncQueuedWhileNoDaemonRuns_exitsOneNamingIt() {
    try (LettuceStateStore state =
        LettuceStateStore.connect(new RedisSettings(harness.redisServer.uri()), "cachesync:it:")) {
      state.submitResync("status-it", Set.of("public.users"));
    }

    CommandRun run = status();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.ATTENTION);
    assertThat(run.out())
        .contains("  - 1 resync request queued for the daemon")
        .contains("pending   1 resync queued, 2 tables not loaded");
  }

  @Test
  @Order(3)
  void status_streamingDaemon_exitsZeroWithPositionSlotAndExactKeyCounts() throws Exception {
    daemon.start();
    AtomicReference<CommandRun> last = new AtomicReference<>();
    await("status exits 0 with the daemon streaming")
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(500))
        .failFast("the daemon exited:\n" + daemon.tail(), () -> !daemon.alive())
        .until(
            () -> {
              last.set(status("--json"));
              return last.get().exitCode() == ExitCode.OK;
            });

    JsonNode json = JSON.readTree(last.get().out());
    assertThat(json.path("name").asText()).isEqualTo("it");
    assertThat(json.path("verdict").asText()).isEqualTo("ok");
    assertThat(json.path("reasons").size()).isZero();
    JsonNode slot = json.path("slot");
    assertThat(slot.path("name").asText()).isEqualTo("cachesync_it");
    assertThat(slot.path("exists").asBoolean()).isTrue();
    assertThat(slot.path("active").asBoolean()).isTrue();
    assertThat(slot.path("activePid").isInt()).isTrue();
    assertThat(slot.path("restartLsn").path("text").asText()).matches("[0-9A-F]+/[0-9A-F]+");
    assertThat(slot.path("retainedWalBytes").asLong()).isNotNegative();
    JsonNode position = json.path("position");
    assertThat(position.path("stored").asBoolean()).isTrue();
    String stored = harness.redis.redis().hget("cachesync:it:position", "version");
    assertThat(position.path("version").asText()).isEqualTo(stored);
    assertThat(position.path("lsn").path("number").asLong())
        .isEqualTo(Long.parseUnsignedLong(stored.substring(16), 16));
    assertThat(position.path("at").asText()).isNotEmpty();
    assertThat(json.path("writer").path("held").asBoolean()).isTrue();
    assertThat(json.path("writer").path("holder").asText()).contains(Long.toString(daemon.pid()));
    assertThat(json.path("writer").path("ttlMillis").asLong()).isBetween(1L, 10_000L);
    assertThat(json.path("pending").path("resyncQueued").asLong()).isZero();
    assertThat(json.path("pending").path("tablesNotLoaded").size()).isZero();
    assertThat(json.path("tables").size()).isEqualTo(2);
    assertThat(json.path("tables").get(0).path("table").asText()).isEqualTo("public.users");
    assertThat(json.path("tables").get(0).path("keyPattern").asText()).isEqualTo("user:{id}");
    assertThat(json.path("tables").get(0).path("keys").asLong()).isEqualTo(7);
    assertThat(json.path("tables").get(0).path("estimate").asText()).isEqualTo("exact");
    assertThat(json.path("tables").get(1).path("keys").asLong()).isEqualTo(3);

    CommandRun text = status();
    assertThat(text.exitCode()).as(text.output()).isEqualTo(ExitCode.OK);
    assertThat(text.out())
        .startsWith("cachesync it: OK")
        .containsPattern("slot      cachesync_it: active \\(pid \\d+\\)")
        .contains("position  " + positionText(stored))
        .contains("pending   nothing")
        .containsPattern("public\\.users +user:\\{id\\} +7 keys \\(exact\\)")
        .containsPattern("public\\.orders +order:\\{id\\} +3 keys \\(exact\\)");
    assertThat(text.out().lines().count()).isLessThanOrEqualTo(20);
    System.out.println("StatusIT: streaming daemon ->\n" + text.out());
  }

  private static String positionText(String text) {
    return io.cachesync.model.Version.parse(text).toString();
  }

  @Test
  @Order(4)
  void status_daemonKilled_exitsOneWithTheSlotInactive() {
    daemon.kill();

    AtomicReference<CommandRun> last = new AtomicReference<>();
    await("status names the inactive slot")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(300))
        .until(
            () -> {
              last.set(status());
              return last.get().out().contains("replication slot cachesync_it is not active");
            });

    assertThat(last.get().exitCode()).as(last.get().output()).isEqualTo(ExitCode.ATTENTION);
    assertThat(last.get().out()).contains("slot      cachesync_it: inactive");
  }

  @Test
  @Order(5)
  void status_postgresUnreachable_exitsThreeNamingPostgresAndStillShowsRedis() throws Exception {
    try (ClosedPort closed = new ClosedPort()) {
      int closedPort = closed.port();
      Path unreachable =
          ConfigFiles.write(
              Files.createTempDirectory("cachesync-status-"),
              SyncHarness.NAME,
              "host: 127.0.0.1\nport: "
                  + closedPort
                  + "\ndatabase: "
                  + harness.database
                  + "\nuser: "
                  + PostgresServer.SUPERUSER
                  + "\npassword: s3cret-pg\n",
              // The default user without a password takes any: the password must not be printed.
              "redis://default:s3cret-redis@"
                  + harness.redisServer.host()
                  + ":"
                  + harness.redisServer.port(),
              MAPPING);

      CommandRun run = CommandRun.of("status", "--config", unreachable.toString());
      CommandRun json = CommandRun.of("status", "--config", unreachable.toString(), "--json");

      assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.UNREACHABLE);
      assertThat(run.out())
          .startsWith("cachesync it: UNREACHABLE")
          .contains("  - PostgreSQL at 127.0.0.1:" + closedPort + "/" + harness.database)
          .contains(
              "postgres  127.0.0.1:" + closedPort + "/" + harness.database + ": cannot be read")
          .contains(
              "redis     redis://default:****@"
                  + harness.redisServer.host()
                  + ":"
                  + harness.redisServer.port()
                  + ", ")
          .containsPattern("public\\.users +user:\\{id\\} +7 keys \\(exact\\)");
      assertThat(run.output() + json.output()).doesNotContain("s3cret");
      assertThat(json.exitCode()).isEqualTo(ExitCode.UNREACHABLE);
      JsonNode parsed = JSON.readTree(json.out());
      assertThat(parsed.path("verdict").asText()).isEqualTo("unreachable");
      assertThat(codes(parsed)).startsWith("postgres_unreachable");
      assertThat(parsed.path("postgres").path("reachable").asBoolean()).isFalse();
      assertThat(parsed.path("slot").isNull()).isTrue();
      assertThat(parsed.path("redis").path("reachable").asBoolean()).isTrue();
    }
  }

  @Test
  @Order(6)
  void status_redisStopped_exitsThreeNamingRedisAndStillShowsTheSlot() {
    harness.redisServer.close();

    CommandRun run = status();

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.UNREACHABLE);
    assertThat(run.out())
        .startsWith("cachesync it: UNREACHABLE")
        .contains("  - Redis at " + harness.redisServer.uri() + " cannot be read: ")
        .contains("redis     " + harness.redisServer.uri() + ": cannot be read")
        .contains("slot      cachesync_it: inactive");
  }
}
