package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Pins the message of every synchronizer.yml problem: one fixture file per problem. */
class SettingsProblemsTest {
  private static final String DIR = "src/test/resources/settings/";

  static Stream<Arguments> problems() {
    return Stream.of(
        Arguments.of(
            "missing-name.yml",
            List.of("missing-name.yml:1:1: missing required key 'name' (e.g. name: shop)")),
        Arguments.of(
            "bad-name.yml",
            List.of(
                "bad-name.yml:1:1: name: 'Shop-EU' is not a valid name: use 1 to 48 lowercase letters, digits and _, starting with a letter (it names the replication slot and the publication)")),
        Arguments.of(
            "missing-postgres.yml",
            List.of(
                "missing-postgres.yml:1:1: missing required key 'postgres' (e.g. postgres: {database: shop, user: cachesync})")),
        Arguments.of(
            "missing-database.yml",
            List.of(
                "missing-database.yml:2:1: postgres: missing required key 'database' (e.g. database: shop)")),
        Arguments.of(
            "bad-port.yml",
            List.of("bad-port.yml:3:3: postgres.port: 'fivefourthreetwo' is not a whole number")),
        Arguments.of(
            "port-out-of-range.yml",
            List.of(
                "port-out-of-range.yml:3:3: postgres.port: 70000 is out of range (1 to 65535)")),
        Arguments.of(
            "postgres-not-mapping.yml",
            List.of("postgres-not-mapping.yml:2:11: postgres: expected a mapping, got a string")),
        Arguments.of(
            "unknown-postgres-key.yml",
            List.of(
                "unknown-postgres-key.yml:5:3: postgres.pasword: unknown key (did you mean 'password'?); known keys here: host, port, database, user, password, passwordFile, sslmode, sslrootcert, sslcert, sslkey")),
        Arguments.of(
            "bad-redis-uri.yml",
            List.of(
                "bad-redis-uri.yml:6:3: redis.uri: 'http://user:****@127.0.0.1:6379' is not a Redis URI: it starts with redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster:// (e.g. redis://127.0.0.1:6379)")),
        Arguments.of(
            "cluster-database.yml",
            List.of(
                "cluster-database.yml:6:3: redis.uri: 'redis-cluster://cachesync:****@10.0.0.1:6379,10.0.0.2:6379/2' selects database 2; a Redis Cluster has database 0 only: remove '/2'")),
        Arguments.of(
            "sentinel-without-master.yml",
            List.of(
                "sentinel-without-master.yml:6:3: redis.uri: 'redis-sentinel://127.0.0.1:26379' does not name the Sentinel master after '#' (e.g. redis-sentinel://127.0.0.1:26379#mymaster)")),
        Arguments.of(
            "http-not-off.yml",
            List.of(
                "http-not-off.yml:5:1: http: 'on' is not an http setting: write 'http: off' to turn the endpoint off, or a section such as 'http: {host: 127.0.0.1, port: 9464}'")),
        Arguments.of(
            "http-port-out-of-range.yml",
            List.of(
                "http-port-out-of-range.yml:6:3: http.port: 99999 is out of range (0 to 65535)")),
        Arguments.of(
            "http-unknown-key.yml",
            List.of(
                "http-unknown-key.yml:6:3: http.prot: unknown key (did you mean 'port'?); known keys here: host, port, readyLagSeconds, stallDeadlineSeconds")),
        Arguments.of(
            "http-ready-lag-zero.yml",
            List.of(
                "http-ready-lag-zero.yml:6:3: http.readyLagSeconds: 0 is out of range (1 to 86400)")),
        Arguments.of(
            "wait-replicas-negative.yml",
            List.of(
                "wait-replicas-negative.yml:7:3: redis.waitReplicas: -1 is out of range (0 to 100)")),
        Arguments.of(
            "missing-mapping-file.yml",
            List.of(
                "missing-mapping-file.yml:5:1: mapping: mapping file "
                    + DIR
                    + "nowhere.yml does not exist (looked for "
                    + Path.of(DIR, "nowhere.yml").toAbsolutePath()
                    + "); create it or point 'mapping' at it")),
        Arguments.of(
            "env-missing.yml",
            List.of(
                "env-missing.yml:5:3: postgres.password: environment variable CACHESYNC_TEST_UNSET is not set (export it, or give a default: ${CACHESYNC_TEST_UNSET:-value})")),
        Arguments.of(
            "env-unclosed.yml",
            List.of(
                "env-unclosed.yml:4:3: postgres.user: unclosed '${' in '${CACHESYNC_TEST_USER' (write ${NAME}, or $${ for a literal ${)")),
        Arguments.of(
            "password-unclosed.yml",
            List.of(
                "password-unclosed.yml:5:3: postgres.password: the value (secret, not shown) has an unclosed '${'; write $${ for a literal ${ in a password, or set the variables it names (e.g. password: ${PGPASSWORD})")),
        Arguments.of(
            "password-with-reference.yml",
            List.of(
                "password-with-reference.yml:5:3: postgres.password: the value (secret, not shown) names an environment variable that is not set; write $${ for a literal ${ in a password, or set the variables it names (e.g. password: ${PGPASSWORD})")),
        Arguments.of(
            "password-bad-escape.yml",
            List.of(
                "password-bad-escape.yml:5:17: YAML syntax error: found unknown escape character (while scanning a double-quoted scalar at line 5)")),
        Arguments.of(
            "redis-uri-password-at.yml",
            List.of(
                "redis-uri-password-at.yml:6:3: redis.uri: 'redis://app:****@127.0.0.1:6379' names no host (e.g. redis://127.0.0.1:6379); percent-encode @ : / # ? % in a password (@ as %40, : as %3A, / as %2F, # as %23, ? as %3F, % as %25)")),
        Arguments.of(
            "redis-uri-password-unclosed.yml",
            List.of(
                "redis-uri-password-unclosed.yml:6:3: redis.uri: the value (secret, not shown) has an unclosed '${'; write $${ for a literal ${ in a password, or set the variables it names (e.g. password: ${PGPASSWORD})")),
        Arguments.of(
            "tls-bad-sslmode.yml",
            List.of(
                "tls-bad-sslmode.yml:5:3: postgres.sslmode: 'verify_full' is not one of disable, prefer, require, verify-ca, verify-full (did you mean 'verify-full'?)")),
        Arguments.of(
            "tls-verify-without-rootcert.yml",
            List.of(
                "tls-verify-without-rootcert.yml:5:3: postgres.sslmode: verify-full checks the server's certificate against postgres.sslrootcert, which is not set: set it to the file of the CA certificate (PEM) that signed the server's certificate, or to 'system' for the CAs the Java runtime trusts (with verify-full)")),
        Arguments.of(
            "tls-rootcert-missing.yml",
            List.of(
                "tls-rootcert-missing.yml:6:3: postgres.sslrootcert: file tls/nowhere.crt does not exist (looked for "
                    + absolute("tls/nowhere.crt")
                    + ")")),
        Arguments.of(
            "tls-rootcert-folder.yml",
            List.of(
                "tls-rootcert-folder.yml:6:3: postgres.sslrootcert: "
                    + absolute("tls")
                    + " is not a file")),
        Arguments.of(
            "tls-rootcert-not-certificate.yml",
            List.of(
                "tls-rootcert-not-certificate.yml:6:3: postgres.sslrootcert: "
                    + absolute("mapping.yml")
                    + " holds no certificate; expected PEM (-----BEGIN CERTIFICATE-----) or DER")),
        Arguments.of(
            "tls-rootcert-without-verify.yml",
            List.of(
                "tls-rootcert-without-verify.yml:5:3: postgres.sslrootcert: is used only with sslmode verify-ca or verify-full, and sslmode is 'prefer' (the default), which does not check the server's certificate: set postgres.sslmode: verify-full (or verify-ca), or remove sslrootcert")),
        Arguments.of(
            "tls-rootcert-with-require.yml",
            List.of(
                "tls-rootcert-with-require.yml:6:3: postgres.sslrootcert: is used only with sslmode verify-ca or verify-full, and sslmode is 'require', which does not check the server's certificate: set postgres.sslmode: verify-full (or verify-ca), or remove sslrootcert")),
        Arguments.of(
            "tls-system-with-verify-ca.yml",
            List.of(
                "tls-system-with-verify-ca.yml:6:3: postgres.sslrootcert: 'system' trusts every certificate that any CA trusted by the Java runtime signed, for any host name; use it with sslmode: verify-full, which checks the name too")),
        Arguments.of(
            "pg-tls-cert-without-key.yml",
            List.of(
                "pg-tls-cert-without-key.yml:7:3: postgres.sslcert: a client certificate needs its private key: set postgres.sslkey too")),
        Arguments.of(
            "pg-tls-key-without-cert.yml",
            List.of(
                "pg-tls-key-without-cert.yml:6:3: postgres.sslkey: file tls/absent-client.key does not exist (looked for "
                    + absolute("tls/absent-client.key")
                    + ")",
                "pg-tls-key-without-cert.yml:6:3: postgres.sslkey: a private key needs its client certificate: set postgres.sslcert too")),
        Arguments.of(
            "redis-uri-verify-peer.yml",
            List.of(
                "redis-uri-verify-peer.yml:6:3: redis.uri: 'rediss://127.0.0.1:6380?verifyPeer=NONE' sets verifyPeer; remove it and set redis.tls.verify instead (full, the default, checks the CA and the host name; ca checks the CA only)")),
        Arguments.of(
            "tls-plain-uri.yml",
            List.of(
                "tls-plain-uri.yml:7:3: redis.tls: redis.uri 'redis://127.0.0.1:6379' does not use TLS; write rediss://127.0.0.1:6379 to connect with these settings, or remove redis.tls")),
        Arguments.of(
            "tls-plain-sentinel-uri.yml",
            List.of(
                "tls-plain-sentinel-uri.yml:7:3: redis.tls: redis.uri 'redis-sentinel://127.0.0.1:26379#cache' does not use TLS; write rediss-sentinel://127.0.0.1:26379#cache (TLS to Sentinel and to the master) to connect with these settings, or remove redis.tls")),
        Arguments.of(
            "tls-ca-file-missing.yml",
            List.of(
                "tls-ca-file-missing.yml:8:5: redis.tls.caFile: file "
                    + DIR
                    + "tls/nowhere.crt does not exist (looked for "
                    + Path.of(DIR, "tls/nowhere.crt").toAbsolutePath()
                    + ")")),
        Arguments.of(
            "tls-ca-file-not-pem.yml",
            List.of(
                "tls-ca-file-not-pem.yml:8:5: redis.tls.caFile: "
                    + DIR
                    + "tls/not-pem.txt holds no PEM certificate (-----BEGIN CERTIFICATE-----); is it a PEM file?")),
        Arguments.of(
            "tls-ca-file-is-key.yml",
            List.of(
                "tls-ca-file-is-key.yml:8:5: redis.tls.caFile: "
                    + DIR
                    + "tls/client.key holds no PEM certificate (-----BEGIN CERTIFICATE-----); it holds 'PRIVATE KEY'")),
        Arguments.of(
            "tls-cert-without-key.yml",
            List.of(
                "tls-cert-without-key.yml:8:5: redis.tls.certFile: certFile is set without keyFile; a client certificate (mutual TLS) needs both certFile (its PEM certificate) and keyFile (its PEM private key)")),
        Arguments.of(
            "tls-key-without-cert.yml",
            List.of(
                "tls-key-without-cert.yml:8:5: redis.tls.keyFile: keyFile is set without certFile; a client certificate (mutual TLS) needs both certFile (its PEM certificate) and keyFile (its PEM private key)")),
        Arguments.of(
            "tls-key-traditional.yml",
            List.of(
                "tls-key-traditional.yml:9:5: redis.tls.keyFile: "
                    + DIR
                    + "tls/client-traditional.key holds a private key in the traditional OpenSSL form; cachesync reads PKCS #8 (-----BEGIN PRIVATE KEY-----); convert it with: openssl pkcs8 -topk8 -nocrypt -in "
                    + DIR
                    + "tls/client-traditional.key -out "
                    + DIR
                    + "tls/client-traditional.key.pk8 (and point keyFile at the new file)")),
        Arguments.of(
            "tls-key-encrypted.yml",
            List.of(
                "tls-key-encrypted.yml:9:5: redis.tls.keyFile: "
                    + DIR
                    + "tls/client-encrypted.key holds an encrypted private key; cachesync reads unencrypted keys; convert it with: openssl pkcs8 -topk8 -nocrypt -in "
                    + DIR
                    + "tls/client-encrypted.key -out "
                    + DIR
                    + "tls/client-encrypted.key.pk8 (and point keyFile at the new file)")),
        Arguments.of(
            "tls-key-is-certificate.yml",
            List.of(
                "tls-key-is-certificate.yml:9:5: redis.tls.keyFile: "
                    + DIR
                    + "tls/client.crt holds no PEM private key (-----BEGIN PRIVATE KEY-----); it holds 'CERTIFICATE'")),
        Arguments.of(
            "tls-verify-none.yml",
            List.of(
                "tls-verify-none.yml:8:5: redis.tls.verify: 'none' is not one of full, ca (full checks that a trusted CA issued the server's certificate and that it names the host connected to; ca skips the host name; no mode skips the CA, or TLS would not tell the server from an impostor)")),
        Arguments.of(
            "tls-unknown-key.yml",
            List.of(
                "tls-unknown-key.yml:8:5: redis.tls.cafile: unknown key (did you mean 'caFile'?); known keys here: caFile, certFile, keyFile, verify")),
        Arguments.of(
            "problems-in-both-files.yml",
            List.of(
                "problems-in-both-files.yml:5:3: postgres.port: 'many' is not a whole number",
                "src/test/resources/mapping/bad-format.yml:7:5: tables[1].format: 'hsah' is not one of hash, json (did you mean 'hash'?)")));
  }

  /** A path in the fixtures' folder, as messages show it: absolute. */
  private static Path absolute(String path) {
    return Path.of(DIR, path).toAbsolutePath().normalize();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("problems")
  void load_invalidSettings_reportsEveryProblemWithFileLineColumnAndPath(
      String fixture, List<String> expected) {
    ConfigurationException failure =
        catchThrowableOfType(
            ConfigurationException.class,
            () -> new ConfigurationLoader(Map.of()).load(Path.of(DIR + fixture)));

    assertThat(failure.problems())
        .map(Problem::toString)
        .map(message -> message.startsWith(DIR) ? message.substring(DIR.length()) : message)
        .containsExactlyElementsOf(expected);
    assertThat(failure.getMessage())
        .startsWith(
            expected.size() == 1
                ? "1 configuration problem:"
                : expected.size() + " configuration problems:")
        .contains("  1. " + DIR);
  }
}
