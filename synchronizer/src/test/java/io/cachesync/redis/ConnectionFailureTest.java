package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.config.RedisTlsSettings;
import io.cachesync.testing.TestCertificates;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** How a failed connect is told, from the exceptions Lettuce and the JDK give, without servers. */
class ConnectionFailureTest {
  private static final RedisSettings TLS =
      new RedisSettings(
          "rediss://:pw@cache.internal:6380",
          0,
          new RedisTlsSettings(
              Optional.of(Path.of("/etc/cachesync/ca.crt")),
              Optional.empty(),
              Optional.empty(),
              RedisTlsSettings.Verify.FULL));
  private static final RedisSettings MUTUAL =
      new RedisSettings(
          "rediss://cache.internal:6380",
          0,
          new RedisTlsSettings(
              Optional.empty(),
              Optional.of(Path.of("client.crt")),
              Optional.of(Path.of("client.key")),
              RedisTlsSettings.Verify.FULL));
  private static final RedisSettings PLAIN = new RedisSettings("redis://:pw@cache.internal:6379");

  /** A port that looks like nothing: no TLS, no plain-text Redis. */
  private static final ConnectionFailure.Probe NOTHING = probe(Optional.empty(), false);

  private static ConnectionFailure.Probe probe(
      Optional<List<X509Certificate>> certificates, boolean plainText) {
    return new ConnectionFailure.Probe() {
      @Override
      public Optional<List<X509Certificate>> tlsCertificates(String host, int port) {
        return certificates;
      }

      @Override
      public boolean answersPlainText(String host, int port) {
        return plainText;
      }
    };
  }

  private static RedisConnectionException connect(String address, Throwable cause) {
    return new RedisConnectionException("Unable to connect to " + address, cause);
  }

  private static <T extends Throwable> T causedBy(T exception, Throwable cause) {
    exception.initCause(cause);
    return exception;
  }

  @Test
  void of_untrustedCertificate_namesTheCaFileAndIsARefusal() {
    Throwable failure =
        connect(
            "cache.internal/10.0.0.5:6380",
            causedBy(
                new SSLHandshakeException("PKIX path building failed"),
                new CertPathBuilderException(
                    "unable to find valid certification path to requested target")));

    ConnectionFailure told = ConnectionFailure.of(TLS, failure, NOTHING);

    assertThat(told.refused()).isTrue();
    assertThat(told.certificate()).as("exit 3, as a certificate on either side mends it").isTrue();
    assertThat(told.address()).isEqualTo("cache.internal:6380");
    assertThat(told.message())
        .isEqualTo(
            "Redis at cache.internal:6380: its TLS certificate is not issued by a CA in"
                + " redis.tls.caFile (/etc/cachesync/ca.crt); point redis.tls.caFile at the PEM"
                + " certificate of the CA that issued it (unable to find valid certification path"
                + " to requested target)");
  }

  @Test
  void of_expiredCertificate_saysToRenewIt() {
    Throwable failure =
        connect(
            "cache.internal/10.0.0.5:6380",
            causedBy(
                new SSLHandshakeException("PKIX path validation failed"),
                new CertificateExpiredException("NotAfter: Sat Dec 05 2026")));

    assertThat(ConnectionFailure.of(TLS, failure, NOTHING).message())
        .isEqualTo(
            "Redis at cache.internal:6380: its TLS certificate has expired or is not valid yet"
                + " (NotAfter: Sat Dec 05 2026); renew the server's certificate");
  }

  @Test
  void of_certificateForAnotherHost_namesTheCertificatesNames() throws Exception {
    TestCertificates.Authority authority = TestCertificates.authority("unit");
    X509Certificate certificate =
        read(authority.server("elsewhere", "redis.example", "10.9.9.9").certificate());
    Throwable failure =
        connect(
            "cache.internal/10.0.0.5:6380",
            causedBy(
                new SSLHandshakeException("No name matching cache.internal found"),
                new CertificateException("No name matching cache.internal found")));

    ConnectionFailure told =
        ConnectionFailure.of(TLS, failure, probe(Optional.of(List.of(certificate)), false));

    assertThat(told.refused()).isTrue();
    assertThat(told.message())
        .isEqualTo(
            "Redis at cache.internal:6380: its TLS certificate names redis.example, 10.9.9.9, not"
                + " cache.internal (No name matching cache.internal found); make the host in"
                + " redis.uri one of the certificate's names, or reissue the certificate for"
                + " cache.internal (redis.tls.verify: ca skips the host name check)");
  }

  @Test
  void of_masterCertificateForAnotherHostThroughSentinel_pointsAtTheAnnouncedAddress() {
    RedisSettings sentinel = new RedisSettings("rediss-sentinel://s1:26379#cache");
    Throwable failure =
        connect(
            "10.0.0.7/<unresolved>:6380",
            causedBy(
                new SSLHandshakeException("No subject alternative names matching IP address"),
                new CertificateException(
                    "No subject alternative names matching IP address 10.0.0.7 found")));

    assertThat(ConnectionFailure.of(sentinel, failure, NOTHING).message())
        .startsWith(
            "Redis at 10.0.0.7:6380: its TLS certificate does not name 10.0.0.7 (No subject"
                + " alternative names matching IP address 10.0.0.7 found); make the address"
                + " Sentinel gives for the master (sentinel announce-ip, or replica-announce-ip on"
                + " the server) one of the certificate's names");
  }

  @Test
  void of_clusterNodeCertificateForAnotherHost_pointsAtTheAddressTheClusterGives() {
    RedisSettings cluster =
        new RedisSettings("rediss-cluster://redis-a.internal:7000,redis-b.internal:7000");
    Throwable atNode =
        connect(
            "10.0.0.7/<unresolved>:7000",
            causedBy(
                new SSLHandshakeException("No subject alternative names matching IP address"),
                new CertificateException(
                    "No subject alternative names matching IP address 10.0.0.7 found")));
    Throwable atSeed =
        connect(
            "redis-b.internal/10.0.0.8:7000",
            causedBy(
                new SSLHandshakeException("No name matching redis-b.internal found"),
                new CertificateException("No name matching redis-b.internal found")));

    assertThat(ConnectionFailure.of(cluster, atNode, NOTHING).message())
        .isEqualTo(
            "Redis at 10.0.0.7:7000: its TLS certificate does not name 10.0.0.7 (No subject"
                + " alternative names matching IP address 10.0.0.7 found); make the address the"
                + " cluster gives for the node (the one CLUSTER NODES shows, set by"
                + " cluster-announce-ip on the node) one of the certificate's names, or reissue"
                + " the certificate for 10.0.0.7 (redis.tls.verify: ca skips the host name"
                + " check)");
    assertThat(ConnectionFailure.of(cluster, atSeed, NOTHING).message())
        .contains("make the host in redis.uri one of the certificate's names");
  }

  @Test
  void of_sentinelFailure_namesTheSentinel() {
    Throwable failure =
        new RedisConnectionException(
            "Cannot connect to a Redis Sentinel: [rediss://s1:26379]",
            new RedisConnectionException(
                "Cannot connect Redis Sentinel at rediss://s1:26379?timeout=10s",
                new SSLHandshakeException("Received fatal alert: certificate_required")));

    ConnectionFailure told =
        ConnectionFailure.of(
            new RedisSettings("rediss-sentinel://s1:26379,s2:26379#cache"), failure, NOTHING);

    assertThat(told.address()).isEqualTo("s1:26379");
    assertThat(told.message())
        .startsWith(
            "Redis Sentinel at s1:26379 requires a client certificate (TLS alert"
                + " certificate_required); set redis.tls.certFile and redis.tls.keyFile");
  }

  @Test
  void of_clientCertificateRefused_namesTheCertFile() {
    Throwable failure =
        connect(
            "cache.internal/10.0.0.5:6380",
            new SSLHandshakeException("Received fatal alert: unknown_ca"));

    assertThat(ConnectionFailure.of(MUTUAL, failure, NOTHING).message())
        .isEqualTo(
            "Redis at cache.internal:6380 refused the client certificate in redis.tls.certFile"
                + " (client.crt) (TLS alert unknown_ca); it must be issued by a CA the server"
                + " trusts (its tls-ca-cert-file), be valid now, and match redis.tls.keyFile");
  }

  @Test
  void of_handshakeTimeoutOnAPlainTextPort_isARefusal() {
    Throwable failure =
        connect(
            "cache.internal/10.0.0.5:6380",
            new RedisCommandTimeoutException("Connection initialization timed out"));

    ConnectionFailure plainText = ConnectionFailure.of(TLS, failure, probe(Optional.empty(), true));
    ConnectionFailure silent = ConnectionFailure.of(TLS, failure, NOTHING);

    assertThat(plainText.refused()).isTrue();
    assertThat(plainText.message())
        .isEqualTo(
            "Redis at cache.internal:6380 answers in plain text, not TLS; point redis.uri at the"
                + " server's tls-port, or use redis:// for a server without TLS (and remove"
                + " redis.tls)");
    assertThat(silent.refused()).as("a server that answers nothing").isFalse();
    assertThat(silent.address()).isEqualTo("rediss://:****@cache.internal:6380");
    assertThat(silent.message())
        .isEqualTo(
            "no TLS handshake with cache.internal:6380 within 5 s (Connection initialization"
                + " timed out); check that the port in redis.uri is the server's tls-port");
  }

  @Test
  void of_plainTextConnectionResetByATlsServer_saysToUseRediss() throws Exception {
    TestCertificates.Authority authority = TestCertificates.authority("unit");
    X509Certificate certificate = read(authority.server("redis", "cache.internal").certificate());
    Throwable failure =
        connect("cache.internal/10.0.0.5:6379", new SocketException("Connection reset"));

    ConnectionFailure tls =
        ConnectionFailure.of(PLAIN, failure, probe(Optional.of(List.of(certificate)), false));
    ConnectionFailure neither = ConnectionFailure.of(PLAIN, failure, NOTHING);

    assertThat(tls.refused()).isTrue();
    assertThat(tls.message())
        .isEqualTo(
            "Redis at cache.internal:6379 speaks TLS (it closed the plain-text connection:"
                + " Connection reset); use rediss:// in redis.uri, with redis.tls.caFile for a CA"
                + " of your own");
    assertThat(neither.refused()).isFalse();
    assertThat(neither.message()).isEqualTo("Connection reset");
  }

  @Test
  void of_connectionRefused_isUnreachableWithTheRedactedUri() {
    Throwable failure =
        connect("cache.internal/10.0.0.5:6379", new ConnectException("Connection refused"));

    ConnectionFailure told = ConnectionFailure.of(PLAIN, failure, NOTHING);

    assertThat(told.refused()).isFalse();
    assertThat(told.address()).isEqualTo("redis://:****@cache.internal:6379");
    assertThat(told.message()).isEqualTo("Connection refused");
  }

  @Test
  void of_loginRefused_isARefusalNamingTheUriWithoutItsPassword() {
    Throwable failure =
        new RedisConnectionException(
            "Unable to connect",
            new RedisCommandExecutionException("WRONGPASS invalid username-password pair"));

    ConnectionFailure told = ConnectionFailure.of(PLAIN, failure, NOTHING);

    assertThat(told.refused()).isTrue();
    assertThat(told.certificate()).as("exit 2: only the configuration mends it").isFalse();
    assertThat(told.message())
        .isEqualTo(
            "Redis at redis://:****@cache.internal:6379 refused the connection: WRONGPASS invalid"
                + " username-password pair; check the user and password in redis.uri (or redis.passwordFile)");
  }

  @Test
  void tlsCause_certificateProblemWhileRunning_saysWhatToCheck() {
    Throwable failure =
        new RedisConnectionException(
            "Unable to connect",
            causedBy(
                new SSLHandshakeException("PKIX path building failed"),
                new CertPathBuilderException("unable to find valid certification path")));

    assertThat(ConnectionFailure.tlsCause(failure))
        .contains(
            "the server's TLS certificate is not issued by a CA in redis.tls.caFile (unable to"
                + " find valid certification path)");
    assertThat(ConnectionFailure.tlsCause(new SocketException("Connection reset"))).isEmpty();
  }

  private static X509Certificate read(Path file) throws Exception {
    try (InputStream in = Files.newInputStream(file)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }
}
