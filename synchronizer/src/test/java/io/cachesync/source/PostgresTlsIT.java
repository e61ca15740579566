package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.CommandRun;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.ServerTls;
import io.cachesync.testing.TestCertificates;
import io.cachesync.testing.TestServers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS to PostgreSQL against a server that accepts TLS only ({@code hostssl} lines, {@link
 * ServerTls}): the daemon (the built jar), {@code resync}, {@code verify}, {@code status} and
 * {@code validate} over {@code verify-full} with a client certificate whose key is PEM, as {@code
 * psql} takes it; and every way TLS can be refused, each a one-line message with its exit code and
 * never a stack trace.
 */
class PostgresTlsIT {
  private static final String MAPPING =
      "tables:\n  - table: public.items\n    key: \"item:{id}\"\n";

  private static final String CA_NAME = "cachesync tls test CA";

  private static final java.util.concurrent.atomic.AtomicInteger CONFIGS =
      new java.util.concurrent.atomic.AtomicInteger();

  private static TestCertificates.Authority authority;
  private static TestCertificates.Issued client;
  private static Path keys;
  private static Path clientKey;
  private static PostgresServer postgres;
  private static PostgresServer elsewhere;
  private static RedisServer redis;
  private static RedisProbe probe;
  private static String database;

  @TempDir Path directory;

  @BeforeAll
  static void startServers() throws Exception {
    authority = TestCertificates.authority(CA_NAME);
    client = authority.client("client", ServerTls.CERT_ROLE);
    keys = Files.createTempDirectory("cachesync-tls-keys-");
    clientKey = client.copyKeyFor(keys, System.getProperty("user.name"));
    postgres =
        TestServers.postgres(
            Map.of(),
            new ServerTls(
                authority.server("server", "localhost", "127.0.0.1"), authority.certificate()));
    elsewhere =
        TestServers.postgres(
            Map.of("wal_level", "replica"),
            new ServerTls(
                authority.server("elsewhere", "elsewhere.invalid"), authority.certificate()));
    redis = TestServers.redis();
    probe = new RedisProbe(redis);
    database = postgres.createDatabase("tls");
    postgres.execute(
        database,
        "CREATE TABLE items (id int PRIMARY KEY, name text)",
        "INSERT INTO items VALUES (1, 'one'), (2, 'two')");
  }

  @AfterAll
  static void stopServers() {
    probe.close();
    redis.close();
    elsewhere.close();
    postgres.close();
  }

  @Test
  void daemonResyncVerifyStatus_verifyFullWithPemClientKey_workOverTlsAsTheServerSees()
      throws Exception {
    Path config =
        config(
            postgres,
            database,
            ServerTls.CERT_ROLE,
            "sslmode: verify-full\nsslrootcert: "
                + authority.certificate()
                + "\nsslcert: "
                + client.certificate()
                + "\nsslkey: "
                + clientKey
                + "\n");
    assertThat(Files.readString(clientKey)).contains("-----BEGIN PRIVATE KEY-----");

    CommandRun validate = CommandRun.of("validate", "--config", config.toString());
    assertThat(validate.exitCode()).as(validate.output()).isZero();
    assertThat(validate.out())
        .containsPattern(
            "ok    postgres: the connection is encrypted with TLSv1\\.[23] \\([A-Z0-9_]+\\),"
                + " sslmode verify-full: the server's certificate is signed by a CA in "
                + java.util.regex.Pattern.quote(authority.certificate().toString())
                + " and names 127\\.0\\.0\\.1; client certificate /CN=cachesync_cert sent");

    try (DaemonProcess daemon = new DaemonProcess(config).start()) {
      await("the initial load over TLS")
          .atMost(Duration.ofSeconds(120))
          .failFast("the daemon exited:\n" + daemon.tail(), () -> !daemon.alive())
          .until(() -> probe.keys("item:*").equals(List.of("item:1", "item:2")));
      postgres.execute(
          database,
          "INSERT INTO items VALUES (3, 'three')",
          "UPDATE items SET name = 'uno' WHERE id = 1",
          "DELETE FROM items WHERE id = 2");
      await("inserts, updates and deletes streamed over TLS")
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  probe.keys("item:*").equals(List.of("item:1", "item:3"))
                      && "uno".equals(probe.hash("item:1").get("name")));

      List<Map<String, String>> sessions = encryptedSessionsOf(ServerTls.CERT_ROLE);
      assertThat(sessions)
          .as("the replication connection, as the server sees it")
          .anySatisfy(
              session ->
                  assertThat(session)
                      .containsEntry("application_name", "Debezium Streaming")
                      .containsEntry("backend_type", "walsender")
                      .containsEntry("ssl", "true")
                      .containsEntry("client_dn", "/CN=" + ServerTls.CERT_ROLE));
      assertThat(sessions)
          .as("cachesync's own connection, as the server sees it")
          .anySatisfy(
              session ->
                  assertThat(session)
                      .containsEntry("application_name", "cachesync slot usage")
                      .containsEntry("ssl", "true"));
      assertThat(sessions)
          .as("every session of the role")
          .allMatch(s -> "true".equals(s.get("ssl")));

      probe.redis().del("item:3");
      CommandRun resync =
          CommandRun.of("resync", "--config", config.toString(), "--quiet", "--timeout", "2m");
      assertThat(resync.exitCode()).as(resync.output()).isZero();
      assertThat(probe.hash("item:3")).containsEntry("name", "three");

      probe.redis().hset("item:1", "name", "stale");
      CommandRun drift = CommandRun.of("verify", "--config", config.toString());
      assertThat(drift.exitCode()).as(drift.output()).isEqualTo(1);
      assertThat(drift.out()).contains("item:1: stale (fields name)");
      probe.redis().hset("item:1", "name", "uno");
      CommandRun verify = CommandRun.of("verify", "--config", config.toString());
      assertThat(verify.exitCode()).as(verify.output()).isZero();

      AtomicReference<CommandRun> status = new AtomicReference<>();
      await("status over TLS: streaming, nothing pending")
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                status.set(CommandRun.of("status", "--config", config.toString()));
                return status.get().exitCode() == 0;
              });

      assertThat(daemon.terminate(Duration.ofSeconds(30))).as(daemon.tail()).isZero();
      assertNoStackTrace(daemon.log());
    }
  }

  @Test
  void validate_sec1EcKeyAsOpensslEcWritesIt_logsInWithTheClientCertificate() throws Exception {
    Path sec1 = keys.resolve("client-sec1.key");
    openssl("ec", "-in", clientKey.toString(), "-out", sec1.toString());
    Files.setPosixFilePermissions(
        sec1, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    assertThat(Files.readString(sec1)).contains("-----BEGIN EC PRIVATE KEY-----");

    CommandRun run =
        validate(
            postgres,
            database,
            ServerTls.CERT_ROLE,
            "sslmode: verify-full\nsslrootcert: "
                + authority.certificate()
                + "\nsslcert: "
                + client.certificate()
                + "\nsslkey: "
                + sec1
                + "\n");

    assertThat(run.exitCode()).as(run.output()).isZero();
    assertThat(run.out()).contains("client certificate /CN=cachesync_cert sent");
  }

  @Test
  void everyCommand_serverCertificateOfAnotherCa_exitsThreeNamingSslrootcert() throws Exception {
    TestCertificates.Authority stranger = TestCertificates.authority("stranger CA");
    Path config =
        config(
            postgres,
            database,
            PostgresServer.SUPERUSER,
            "sslmode: verify-full\nsslrootcert: " + stranger.certificate() + "\n");
    String expected =
        "TLS with PostgreSQL at 127.0.0.1:"
            + postgres.port()
            + " failed: the server's certificate (CN=localhost, issued by CN="
            + CA_NAME
            + ") is not signed by a CA in postgres.sslrootcert ("
            + stranger.certificate()
            + "); put the certificate of the CA that signed it there";

    for (List<String> command :
        List.of(
            List.of("validate"),
            List.of("verify"),
            List.of("resync", "--timeout", "30s"),
            List.of("status"))) {
      List<String> arguments = new ArrayList<>(command);
      arguments.addAll(List.of("--config", config.toString()));
      CommandRun run = CommandRun.of(arguments.toArray(String[]::new));
      assertThat(run.exitCode()).as(command + ":\n" + run.output()).isEqualTo(3);
      assertThat(run.output()).as(command.get(0)).contains(expected);
      assertNoStackTrace(run.output());
    }

    try (DaemonProcess daemon = new DaemonProcess(config).start()) {
      assertThat(daemon.awaitExit(Duration.ofSeconds(90)))
          .as("run stops instead of waiting:\n" + daemon.tail())
          .isEqualTo(3);
      assertThat(daemon.log()).contains("Not starting: " + expected);
      assertNoStackTrace(daemon.log());
    }
  }

  @Test
  void validateAndVerify_certificateForAnotherHostUnderVerifyFull_exitThree() throws Exception {
    String other = elsewhere.createDatabase("elsewhere");
    elsewhere.execute(other, "CREATE TABLE items (id int PRIMARY KEY, name text)");
    Path config =
        config(
            elsewhere,
            other,
            PostgresServer.SUPERUSER,
            "sslmode: verify-full\nsslrootcert: " + authority.certificate() + "\n");
    String expected =
        "TLS with PostgreSQL at 127.0.0.1:"
            + elsewhere.port()
            + " failed: the server's certificate (CN=elsewhere.invalid) names elsewhere.invalid,"
            + " not 127.0.0.1 (postgres.host); set postgres.host to a name the certificate holds,"
            + " or give the server a certificate for 127.0.0.1 (sslmode verify-ca would not check"
            + " the name)";

    for (String command : List.of("validate", "verify")) {
      CommandRun run = CommandRun.of(command, "--config", config.toString());
      assertThat(run.exitCode()).as(run.output()).isEqualTo(3);
      assertThat(run.output()).contains(expected);
      assertNoStackTrace(run.output());
    }
  }

  @Test
  void validate_certificateForAnotherHostUnderVerifyCa_isAccepted() {
    String other = elsewhere.createDatabase("elsewhere");
    elsewhere.execute(other, "CREATE TABLE items (id int PRIMARY KEY, name text)");
    CommandRun run =
        validate(
            elsewhere,
            other,
            PostgresServer.SUPERUSER,
            "sslmode: verify-ca\nsslrootcert: " + authority.certificate() + "\n");

    // The server runs wal_level=replica: the preflight fails on that (exit 2), after the
    // connection it made over TLS.
    assertThat(run.out())
        .as(run.output())
        .contains("ok    postgres: the connection is encrypted with TLSv1.")
        .contains(
            "sslmode verify-ca: the server's certificate is signed by a CA in "
                + authority.certificate()
                + " (its host name is not checked)")
        .contains("FAIL  postgres: wal_level is 'replica'");
    assertThat(run.exitCode()).isEqualTo(2);
  }

  @Test
  void validateAndVerify_sslmodeDisableAgainstTlsOnlyServer_refusedNamingSslmode() {
    Path config = config(postgres, database, PostgresServer.SUPERUSER, "sslmode: disable\n");

    CommandRun validate = CommandRun.of("validate", "--config", config.toString());
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(2);
    assertThat(validate.out())
        .contains("FAIL  postgres: PostgreSQL at 127.0.0.1:" + postgres.port())
        .contains("no pg_hba.conf entry")
        .contains(
            "(with postgres.sslmode disable the connection is not encrypted, and pg_hba.conf may"
                + " allow this login only over TLS, in hostssl lines: set postgres.sslmode to"
                + " verify-full, or require)");

    CommandRun verify = CommandRun.of("verify", "--config", config.toString());
    assertThat(verify.exitCode()).as(verify.output()).isEqualTo(2);
    assertThat(verify.err()).contains("with postgres.sslmode disable the connection");
    assertNoStackTrace(validate.output() + verify.output());
  }

  @Test
  void everyCommand_requireAgainstServerWithoutTls_exitTwoNamingSslOn() throws Exception {
    PostgresServer plain = TestServers.sharedPostgres();
    String plainDatabase = plain.createDatabase("tls_off");
    plain.execute(plainDatabase, "CREATE TABLE items (id int PRIMARY KEY, name text)");
    Path config = config(plain, plainDatabase, PostgresServer.SUPERUSER, "sslmode: require\n");
    String expected =
        "PostgreSQL at 127.0.0.1:"
            + plain.port()
            + " does not offer TLS (ssl=off), which postgres.sslmode require requires; set ssl=on"
            + " in postgresql.conf (with ssl_cert_file and ssl_key_file) and reload PostgreSQL,"
            + " or set postgres.sslmode: prefer";

    CommandRun validate = CommandRun.of("validate", "--config", config.toString());
    assertThat(validate.exitCode()).as(validate.output()).isEqualTo(2);
    assertThat(validate.out()).contains("FAIL  postgres: " + expected);
    for (String command : List.of("verify", "status")) {
      CommandRun run = CommandRun.of(command, "--config", config.toString());
      assertThat(run.exitCode()).as(command + ":\n" + run.output()).isEqualTo(2);
      assertThat(run.output()).contains(expected);
      assertNoStackTrace(run.output());
    }
    try (DaemonProcess daemon = new DaemonProcess(config).start()) {
      assertThat(daemon.awaitExit(Duration.ofSeconds(90))).as(daemon.tail()).isEqualTo(2);
      assertThat(daemon.log()).contains("FAIL postgres: " + expected);
      assertNoStackTrace(daemon.log());
    }
  }

  @Test
  void validate_clientCertificateOfAnImpostorCaWithTheSameName_serverEndsTheHandshake()
      throws Exception {
    TestCertificates.Authority impostor = TestCertificates.authority(CA_NAME);
    TestCertificates.Issued forged = impostor.client("forged", ServerTls.CERT_ROLE);
    Path forgedKey = forged.copyKeyFor(keys, System.getProperty("user.name"));

    CommandRun run =
        validate(
            postgres,
            database,
            ServerTls.CERT_ROLE,
            "sslmode: verify-full\nsslrootcert: "
                + authority.certificate()
                + "\nsslcert: "
                + forged.certificate()
                + "\nsslkey: "
                + forgedKey
                + "\n");

    // The server sends its alert and closes. The client reads the alert ("TLS with PostgreSQL at
    // ... failed: the server ended the TLS handshake (Received fatal alert: unknown_ca); if it
    // refused ...") or, when its own write meets the closed connection first, sees an outage
    // ("PostgreSQL at ... cannot be reached: SSL error: Broken pipe; the connection broke in the
    // TLS handshake: if the server refused ..."). Both name the address, the setting and the fix.
    assertThat(run.exitCode()).as(run.output()).isEqualTo(3);
    assertThat(run.err().lines()).as(run.err()).singleElement();
    assertThat(run.err())
        .startsWith("error: ")
        .contains("PostgreSQL at 127.0.0.1:" + postgres.port())
        .endsWith(
            " refused the client certificate postgres.sslcert ("
                + forged.certificate()
                + "), check that the server's ssl_ca_file holds the CA that signed it\n");
    assertNoStackTrace(run.output());
  }

  @Test
  void validate_clientCertificateForAnotherRole_loginRefusedNamingTheCommonNameRule() {
    TestCertificates.Issued someoneElse = authority.client("someone", "someone_else");
    Path key = someoneElse.copyKeyFor(keys, System.getProperty("user.name"));

    CommandRun run =
        validate(
            postgres,
            database,
            ServerTls.CERT_ROLE,
            "sslmode: verify-full\nsslrootcert: "
                + authority.certificate()
                + "\nsslcert: "
                + someoneElse.certificate()
                + "\nsslkey: "
                + key
                + "\n");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
    assertThat(run.out())
        .contains("refused the login of user " + ServerTls.CERT_ROLE)
        .contains(
            "(the client certificate postgres.sslcert ("
                + someoneElse.certificate()
                + ") was offered; for cert authentication its common name must be the user, or"
                + " pg_ident.conf must map it)");
    assertNoStackTrace(run.output());
  }

  /** The sessions of a role as PostgreSQL sees them: pg_stat_activity with pg_stat_ssl. */
  private static List<Map<String, String>> encryptedSessionsOf(String role) throws Exception {
    List<Map<String, String>> sessions = new ArrayList<>();
    try (Connection connection = postgres.connect("postgres");
        Statement statement = connection.createStatement();
        ResultSet rows =
            statement.executeQuery(
                "SELECT a.application_name, a.backend_type, s.ssl, s.version, s.client_dn"
                    + " FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
                    + " WHERE a.usename = '"
                    + role
                    + "'")) {
      while (rows.next()) {
        sessions.add(
            Map.of(
                "application_name", rows.getString(1),
                "backend_type", rows.getString(2),
                "ssl", Boolean.toString(rows.getBoolean(3)),
                "version", String.valueOf(rows.getString(4)),
                "client_dn", String.valueOf(rows.getString(5))));
      }
    }
    return sessions;
  }

  /**
   * A configuration of its own synchronizer (name, slot, state keys), so that no command of one
   * test leaves anything behind for another.
   */
  private Path config(PostgresServer server, String database, String user, String tls) {
    String name = "tls_" + CONFIGS.incrementAndGet();
    return ConfigFiles.write(
        directory.resolve(name),
        name,
        "host: 127.0.0.1\nport: "
            + server.port()
            + "\ndatabase: "
            + database
            + "\nuser: "
            + user
            + "\n"
            + tls,
        redis.uri(),
        MAPPING);
  }

  private CommandRun validate(PostgresServer server, String database, String user, String tls) {
    return CommandRun.of("validate", "--config", config(server, database, user, tls).toString());
  }

  private static void assertNoStackTrace(String output) {
    assertThat(output).doesNotContain("\tat ").doesNotContain("Exception:");
  }

  private static void openssl(String... arguments) throws Exception {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(arguments));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }
}
