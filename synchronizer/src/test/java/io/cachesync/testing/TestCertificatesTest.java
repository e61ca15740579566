package io.cachesync.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;

class TestCertificatesTest {

  @Test
  void server_signedByItsAuthority_namesTheHostsItServes() throws Exception {
    TestCertificates.Authority authority = TestCertificates.authority("test CA");
    TestCertificates.Authority other = TestCertificates.authority("other CA");
    TestCertificates.Issued server = authority.server("server", "localhost", "127.0.0.1");

    X509Certificate certificate = read(server);
    certificate.verify(read(authority.certificate()).getPublicKey());
    assertThat(certificate.getSubjectAlternativeNames().stream().map(name -> (Object) name.get(1)))
        .containsExactly((Object) "localhost", "127.0.0.1");
    assertThat(certificate.getIssuerX500Principal().getName()).isEqualTo("CN=test CA");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> certificate.verify(read(other.certificate()).getPublicKey()))
        .isInstanceOf(java.security.SignatureException.class);
    assertThat(Files.readString(server.key())).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(Files.size(server.derKey())).isPositive();
  }

  @Test
  void client_carriesItsCommonName() throws Exception {
    TestCertificates.Issued client =
        TestCertificates.authority("test CA").client("client", "cachesync");
    assertThat(read(client).getSubjectX500Principal().getName()).isEqualTo("CN=cachesync");
    assertThat(read(client).getExtendedKeyUsage()).isEqualTo(List.of("1.3.6.1.5.5.7.3.2"));
  }

  private static X509Certificate read(TestCertificates.Issued issued) throws Exception {
    return read(issued.certificate());
  }

  private static X509Certificate read(java.nio.file.Path file) throws Exception {
    try (InputStream in = Files.newInputStream(file)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }
}
