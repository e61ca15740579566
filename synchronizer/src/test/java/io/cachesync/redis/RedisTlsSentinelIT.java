package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisSentinelGroup;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.RedisTls;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestCertificates;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code rediss-sentinel://}: TLS to Sentinel and to the master it names, with mutual TLS
 * everywhere (Sentinel's and replication's links too), followed across a failover; and what a
 * Sentinel with a certificate the settings do not trust, or a plain-text URI, gets.
 */
class RedisTlsSentinelIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";
  private static final String ROWS = "SELECT id, name FROM users";

  private RedisTls tls;
  private SyncHarness harness;
  private RedisSentinelGroup group;
  private DaemonProcess daemon;

  @BeforeEach
  void setUp() {
    tls = RedisTls.create("yes");
    harness =
        new SyncHarness(
            TestServers.sharedPostgres(), "redistlssentinel", TestServers.redisTls(tls));
    group = new RedisSentinelGroup(harness.redisServer);
    harness.sql(
        "CREATE TABLE users (id int PRIMARY KEY, name text)",
        "INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 30) AS i");
  }

  @AfterEach
  void tearDown() {
    if (daemon != null) {
      daemon.close();
    }
    group.close();
    harness.close();
  }

  private Path config(String name, String uri, Path caFile) {
    return harness.configWithRedis(
        name,
        "uri: "
            + uri
            + "\ntls:\n  caFile: "
            + caFile
            + "\n  certFile: "
            + tls.client().certificate()
            + "\n  keyFile: "
            + tls.client().key()
            + "\n",
        MAPPING);
  }

  @Test
  void failover_overTls_followsTheNewMaster() {
    assertThat(group.uri()).startsWith("rediss-sentinel://");
    Path config = config("sentinel", group.uri(), tls.caFile());
    CommandRun validate = CommandRun.of("validate", "--config", config.toString());
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(ExitCode.OK);
    assertThat(validate.out())
        .contains(
            "  ok    redis: connected with TLS to Sentinel and to the master, verify full (CA in "
                + tls.caFile()
                + " and host name), client certificate "
                + tls.client().certificate()
                + "\n");

    daemon = new DaemonProcess(config).start();
    awaitMasterMatchesTable();
    harness.sql("UPDATE users SET name = 'before failover' WHERE id <= 10");
    awaitMasterMatchesTable();
    group.awaitReplicaInSync();

    RedisServer before = group.master();
    group.failover();
    harness.sql(
        "UPDATE users SET name = 'after failover' WHERE id > 20",
        "DELETE FROM users WHERE id = 15",
        "INSERT INTO users VALUES (31, 'new')");

    awaitMasterMatchesTable();
    RedisServer after = group.master();
    assertThat(after).as("the master changed").isNotSameAs(before);
    RedisTlsIT.assertEveryConnectionIsTls(after, tls);
    assertThat(RedisTlsIT.clients(after))
        .as("the writer's connections on the new master")
        .anySatisfy(client -> assertThat(client).contains("name=cachesync-writer-"));
    assertThat(RedisTlsIT.plainTextReply("127.0.0.1", group.sentinelPort()))
        .as("a plain-text PING to Sentinel")
        .isEmpty();
    // A failover may lose writes the old master acknowledged (redis.waitReplicas is 0 here): the
    // daemon then restarts its stream, and Debezium logs its engine's stop with a trace. What
    // must not appear is a TLS refusal of the new master or of Sentinel.
    assertThat(daemon.log()).doesNotContain("its TLS certificate").doesNotContain("Not starting");
  }

  @Test
  void validate_sentinelCertificateFromAnotherCa_namesSentinelAndTheCaFile() {
    TestCertificates.Authority stranger = TestCertificates.authority("a stranger CA");
    Path config = config("stranger", group.uri(), stranger.certificate());

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    // A certificate refused: exit 3, as for PostgreSQL (a renewed certificate mends it).
    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.UNREACHABLE);
    assertThat(run.output())
        .contains(
            "error: Redis Sentinel at 127.0.0.1:"
                + group.sentinelPort()
                + ": its TLS certificate (CN=127.0.0.1, issued by CN=cachesync test Redis CA) is"
                + " not issued by a CA in redis.tls.caFile ("
                + stranger.certificate()
                + "); point redis.tls.caFile at the PEM certificate of the CA that issued it");
    assertThat(run.output()).doesNotContain("\tat ").doesNotContain("Exception");
  }

  @Test
  void validate_plainTextSentinelUri_saysToUseRedissSentinel() {
    Path config =
        harness.configWithRedis(
            "plain", "uri: " + group.uri().replace("rediss-sentinel", "redis-sentinel"), MAPPING);

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    // Plain text against TLS: only the configuration mends it (exit 2).
    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  redis: Redis Sentinel at 127.0.0.1:"
                + group.sentinelPort()
                + " speaks TLS (it closed the plain-text connection: Connection reset); use"
                + " rediss-sentinel:// in redis.uri");
  }

  private void awaitMasterMatchesTable() {
    try {
      await("the master to equal the table")
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(200))
          .failFast("the daemon exited", () -> !daemon.alive())
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                Map<String, Map<String, String>> rows = harness.rowsAsHashes(ROWS, "user:");
                try (RedisProbe master = new RedisProbe(group.master())) {
                  SyncHarness.assertRedisHolds(master, "user:*", rows);
                }
              });
    } catch (org.awaitility.core.ConditionTimeoutException
        | org.awaitility.core.TerminalFailureException e) {
      throw new AssertionError(
          e.getMessage() + "\nThe daemon's log:\n" + daemon.tail() + "\n" + group.describe(), e);
    }
  }
}
