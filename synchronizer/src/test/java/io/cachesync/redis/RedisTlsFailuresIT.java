package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.cli.ExitCode;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.RedisTls;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.TestCertificates;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What each command says when a TLS setup cannot work: a CA that did not issue the server's
 * certificate, a certificate that does not name the host, a client certificate the server requires
 * or refuses, a plain-text server behind {@code rediss://}, a TLS server behind {@code redis://}.
 * One line naming host and port, the cause and the setting to check; exit 2 from validate, resync
 * and verify (the server answered: the settings are wrong), 3 from status (it reports what cannot
 * be read), never a stack trace or the password; {@code run} stops at once with 2 instead of
 * waiting.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RedisTlsFailuresIT {
  private static final String PASSWORD = "Tls-secret-7";
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";
  private static final List<String> COMMANDS = List.of("validate", "resync", "verify", "status");

  private RedisTls tls;
  private SyncHarness harness;
  private RedisServer otherName;
  private RedisServer mutual;
  private RedisServer plain;
  private TestCertificates.Authority stranger;
  private TestCertificates.Issued strangerClient;

  /** A broken setup: the {@code redis:} section and what every command must say about it. */
  record Case(String name, String redisSection, String message) {
    /**
     * Whether a certificate is refused (exit 3, as for an outage: a renewed certificate on either
     * side mends it) rather than the configuration (exit 2).
     */
    boolean certificate() {
      return !name.startsWith("plain-text") && !name.startsWith("TLS server");
    }

    @Override
    public String toString() {
      return name;
    }
  }

  @BeforeAll
  void setUp() {
    tls = RedisTls.create("no");
    harness =
        new SyncHarness(TestServers.sharedPostgres(), "redistlsfail", TestServers.redisTls(tls));
    harness.sql("CREATE TABLE users (id int PRIMARY KEY, name text)");
    otherName = TestServers.redisTls(tls.withServerNames("elsewhere", "redis.example"));
    mutual = TestServers.redisTls(tls.withAuthClients("yes"));
    plain = TestServers.redis();
    stranger = TestCertificates.authority("a stranger CA");
    strangerClient = stranger.client("stranger", "cachesync");
  }

  @AfterAll
  void tearDown() {
    for (AutoCloseable server : new AutoCloseable[] {otherName, mutual, plain, harness}) {
      try {
        if (server != null) {
          server.close();
        }
      } catch (Exception e) {
        // Closing the rest matters more.
      }
    }
  }

  private String at(RedisServer server) {
    return "127.0.0.1:" + server.port();
  }

  private String rediss(RedisServer server) {
    return "uri: rediss://:" + PASSWORD + "@" + at(server) + "\n";
  }

  private String ca(Path file) {
    return "tls:\n  caFile: " + file + "\n";
  }

  Stream<Case> cases() {
    RedisServer server = harness.redisServer;
    return Stream.of(
        new Case(
            "wrong CA",
            rediss(server) + ca(stranger.certificate()),
            "Redis at "
                + at(server)
                + ": its TLS certificate (CN=127.0.0.1, issued by CN=cachesync test Redis CA) is"
                + " not issued by a CA in redis.tls.caFile ("
                + stranger.certificate()
                + "); point redis.tls.caFile at the PEM certificate of the CA that issued it"
                + " (unable to find valid certification path to requested target)"),
        new Case(
            "no caFile, a private CA",
            rediss(server),
            "Redis at "
                + at(server)
                + ": its TLS certificate (CN=127.0.0.1, issued by CN=cachesync test Redis CA) is"
                + " not issued by a CA in the JDK's trust store (redis.tls.caFile is not set);"
                + " point redis.tls.caFile at the PEM certificate of the CA that issued it"
                + " (unable to find valid certification path to requested target)"),
        new Case(
            "certificate for another host",
            rediss(otherName) + ca(tls.caFile()),
            "Redis at "
                + at(otherName)
                + ": its TLS certificate names redis.example, not 127.0.0.1 (No subject"
                + " alternative names matching IP address 127.0.0.1 found); make the host in"
                + " redis.uri one of the certificate's names, or reissue the certificate for"
                + " 127.0.0.1 (redis.tls.verify: ca skips the host name check)"),
        new Case(
            "client certificate missing",
            rediss(mutual) + ca(tls.caFile()),
            "Redis at "
                + at(mutual)
                + " requires a client certificate (TLS alert certificate_required); set"
                + " redis.tls.certFile and redis.tls.keyFile to a certificate issued by a CA the"
                + " server trusts (its tls-ca-cert-file)"),
        new Case(
            "client certificate refused",
            rediss(mutual)
                + ca(tls.caFile())
                + "  certFile: "
                + strangerClient.certificate()
                + "\n  keyFile: "
                + strangerClient.key()
                + "\n",
            "Redis at "
                + at(mutual)
                + " refused the client certificate in redis.tls.certFile ("
                + strangerClient.certificate()
                + ") (TLS alert unknown_ca); it must be issued by a CA the server trusts (its"
                + " tls-ca-cert-file), be valid now, and match redis.tls.keyFile"),
        new Case(
            "plain-text server behind rediss://",
            rediss(plain) + ca(tls.caFile()),
            "Redis at "
                + at(plain)
                + " answers in plain text, not TLS; point redis.uri at the server's tls-port, or"
                + " use redis:// for a server without TLS (and remove redis.tls)"),
        new Case(
            "TLS server behind redis://",
            "uri: redis://:" + PASSWORD + "@" + at(server) + "\n",
            "Redis at "
                + at(server)
                + " speaks TLS (it closed the plain-text connection: Connection reset); use"
                + " rediss:// in redis.uri, with redis.tls.caFile for a CA of your own"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void everyCommand_brokenTlsSetup_saysWhatToCheckInOneLine(Case broken) {
    Path config =
        harness.configWithRedis(
            "case-" + broken.name().replaceAll("[^a-z]+", "-"), broken.redisSection(), MAPPING);

    SoftAssertions softly = new SoftAssertions();
    for (String command : COMMANDS) {
      CommandRun run = CommandRun.of(command, "--config", config.toString());
      String output = run.output();
      softly
          .assertThat(run.exitCode())
          .as(command + ":\n" + output)
          .isEqualTo(
              command.equals("status") || broken.certificate()
                  ? ExitCode.UNREACHABLE
                  : ExitCode.INVALID);
      softly.assertThat(output).as(command).contains(broken.message());
      softly.assertThat(output).as(command).doesNotContain("\tat ").doesNotContain("Exception");
      softly.assertThat(output).as(command).doesNotContain(PASSWORD);
    }
    softly.assertAll();
  }

  @Test
  void validate_certificateForAnotherHostWithVerifyCa_passes() {
    Path config =
        harness.configWithRedis(
            "verify-ca",
            "uri: rediss://" + at(otherName) + "\n" + ca(tls.caFile()) + "  verify: ca\n",
            MAPPING);

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).contains("verify ca (CA in " + tls.caFile() + ", any host name)");
  }

  @Test
  void run_wrongCa_stopsAtOnceWithExitThreeInsteadOfWaiting() {
    Case wrongCa = cases().filter(c -> c.name().equals("wrong CA")).findFirst().orElseThrow();
    assertRunStops(wrongCa, ExitCode.UNREACHABLE);
  }

  @Test
  void run_plainTextServerBehindRediss_stopsAtOnceWithExitTwo() {
    Case plainServer =
        cases().filter(c -> c.name().startsWith("plain-text")).findFirst().orElseThrow();
    assertRunStops(plainServer, ExitCode.INVALID);
  }

  private void assertRunStops(Case broken, int expectedExit) {
    Path config =
        harness.configWithRedis(
            "run-" + broken.name().replaceAll("[^a-z]+", "-"), broken.redisSection(), MAPPING);
    try (DaemonProcess daemon = new DaemonProcess(config).start()) {
      int exitCode = daemon.awaitExit(Duration.ofSeconds(60));

      assertThat(exitCode).as(daemon.log()).isEqualTo(expectedExit);
      assertThat(daemon.log())
          .contains(broken.message())
          .doesNotContain("\tat ")
          .doesNotContain("Exception")
          .doesNotContain(PASSWORD)
          .doesNotContain("trying again");
    }
  }
}
