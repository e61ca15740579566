package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.cachesync.config.PemReader;
import io.cachesync.config.PostgresTls.SslMode;
import io.cachesync.testing.TestCertificates;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What cachesync accepts of a server's certificate in each mode, and what it says when it does not.
 */
class ServerCertificateCheckTest {
  private static final String AUTH_TYPE = "UNKNOWN";

  private static TestCertificates.Authority authority;
  private static TestCertificates.Authority stranger;
  private static X509Certificate[] localhost;
  private static X509Certificate[] elsewhere;
  private static X509Certificate[] expired;

  @BeforeAll
  static void certificates() throws IOException {
    authority = TestCertificates.authority("cachesync check CA");
    stranger = TestCertificates.authority("stranger CA");
    localhost = chain(authority.server("localhost", "localhost", "127.0.0.1").certificate());
    elsewhere = chain(authority.server("elsewhere", "elsewhere.invalid").certificate());
    expired = chain(expired(authority));
  }

  @Test
  void check_verifyFull_acceptsACertificateOfTheCaForTheHost() {
    assertThatCode(() -> check(SslMode.VERIFY_FULL, authority, localhost, "127.0.0.1"))
        .doesNotThrowAnyException();
    assertThatCode(() -> check(SslMode.VERIFY_FULL, authority, localhost, "LOCALHOST"))
        .doesNotThrowAnyException();
  }

  @Test
  void check_verifyFull_refusesACertificateForAnotherHostNamingBoth() {
    PostgresTlsException refused =
        catchThrowableOfType(
            PostgresTlsException.class,
            () -> check(SslMode.VERIFY_FULL, authority, elsewhere, "127.0.0.1"));

    assertThat(refused)
        .hasMessage(
            "the server's certificate (CN=elsewhere.invalid) names elsewhere.invalid, not"
                + " 127.0.0.1 (postgres.host); set postgres.host to a name the certificate holds,"
                + " or give the server a certificate for 127.0.0.1 (sslmode verify-ca would not"
                + " check the name)");
  }

  @Test
  void check_verifyCa_acceptsACertificateForAnotherHost() {
    assertThatCode(() -> check(SslMode.VERIFY_CA, authority, elsewhere, "127.0.0.1"))
        .doesNotThrowAnyException();
  }

  @Test
  void check_verifyCa_refusesACertificateOfAnotherCaNamingTheCaFile() {
    PostgresTlsException refused =
        catchThrowableOfType(
            PostgresTlsException.class,
            () -> check(SslMode.VERIFY_CA, stranger, localhost, "127.0.0.1"));

    assertThat(refused)
        .hasMessage(
            "the server's certificate (CN=localhost, issued by CN=cachesync check CA) is not"
                + " signed by a CA in postgres.sslrootcert ("
                + stranger.certificate()
                + "); put the certificate of the CA that signed it there");
  }

  @Test
  void check_verifyFull_refusesAnExpiredCertificateSayingWhen() {
    PostgresTlsException refused =
        catchThrowableOfType(
            PostgresTlsException.class,
            () -> check(SslMode.VERIFY_FULL, authority, expired, "localhost"));

    assertThat(refused)
        .hasMessage(
            "the server's certificate (CN=localhost) expired on 2020-01-02T00:00:00Z; give the"
                + " server a new one (ssl_cert_file in postgresql.conf)");
  }

  @Test
  void check_require_acceptsAnyCertificate() {
    assertThatCode(() -> check(SslMode.REQUIRE, stranger, expired, "127.0.0.1"))
        .doesNotThrowAnyException();
  }

  @Test
  void of_systemRoots_refusesACertificateOfAPrivateCa() {
    PostgresTlsException refused =
        catchThrowableOfType(
            PostgresTlsException.class,
            () ->
                ServerCertificateCheck.of(SslMode.VERIFY_FULL, null, true)
                    .check(localhost, AUTH_TYPE, "localhost"));

    assertThat(refused)
        .hasMessageContaining(
            "is not signed by a CA in the CAs the Java runtime trusts (postgres.sslrootcert:"
                + " system)");
  }

  @Test
  void of_systemRoots_trustTheJavaRuntimesTrustStore() throws Exception {
    Path store = Files.createTempFile(authority.directory(), "truststore", ".p12");
    KeyStore trusted = KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    trusted.setCertificateEntry("ca", PemReader.certificates(authority.certificate()).get(0));
    try (OutputStream out = Files.newOutputStream(store)) {
      trusted.store(out, "changeit".toCharArray());
    }
    String before = System.getProperty("javax.net.ssl.trustStore");
    String passwordBefore = System.getProperty("javax.net.ssl.trustStorePassword");
    System.setProperty("javax.net.ssl.trustStore", store.toString());
    System.setProperty("javax.net.ssl.trustStorePassword", "changeit");
    try {
      assertThatCode(
              () ->
                  ServerCertificateCheck.of(SslMode.VERIFY_FULL, null, true)
                      .check(localhost, AUTH_TYPE, "localhost"))
          .doesNotThrowAnyException();
    } finally {
      restore("javax.net.ssl.trustStore", before);
      restore("javax.net.ssl.trustStorePassword", passwordBefore);
    }
  }

  private static void restore(String property, String value) {
    if (value == null) {
      System.clearProperty(property);
    } else {
      System.setProperty(property, value);
    }
  }

  private static void check(
      SslMode mode, TestCertificates.Authority trusted, X509Certificate[] chain, String host)
      throws Exception {
    ServerCertificateCheck.of(mode, trusted.certificate(), false).check(chain, AUTH_TYPE, host);
  }

  private static X509Certificate[] chain(Path certificate) throws IOException {
    return PemReader.certificates(certificate).toArray(new X509Certificate[0]);
  }

  /**
   * A certificate for localhost that the authority signed for 1 and 2 January 2020 ({@code openssl
   * ca} sets dates in the past, {@code openssl x509} cannot).
   */
  private static Path expired(TestCertificates.Authority authority) throws IOException {
    Path directory = Files.createTempDirectory(authority.directory(), "expired");
    Path key = directory.resolve("expired.key");
    Path request = directory.resolve("expired.csr");
    Path certificate = directory.resolve("expired.crt");
    Files.writeString(directory.resolve("index.txt"), "");
    Files.writeString(directory.resolve("serial"), "01\n");
    Files.writeString(
        directory.resolve("ca.cnf"),
        "[ca]\ndefault_ca=expired\n[expired]\ndatabase=index.txt\nnew_certs_dir=.\n"
            + "serial=serial\ndefault_md=sha256\npolicy=any\n[any]\ncommonName=supplied\n");
    openssl(
        directory,
        List.of(
            "openssl",
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key.toString(),
            "-subj",
            "/CN=localhost",
            "-out",
            request.toString()));
    openssl(
        directory,
        List.of(
            "openssl",
            "ca",
            "-config",
            "ca.cnf",
            "-batch",
            "-notext",
            "-cert",
            authority.certificate().toString(),
            "-keyfile",
            authority.directory().resolve("ca.key").toString(),
            "-in",
            request.toString(),
            "-out",
            certificate.toString(),
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z"));
    return certificate;
  }

  private static void openssl(Path directory, List<String> command) throws IOException {
    Process process =
        new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
