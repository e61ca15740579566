package io.cachesync.testing;

import io.lettuce.core.SslOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * How a test Redis (or Sentinel) speaks TLS: only on its TLS port ({@code --port 0}), with a
 * certificate for {@code 127.0.0.1} and {@code localhost} from a throwaway authority, trusting that
 * authority's client certificates. The fixtures' own clients ({@link Resp}, {@link RedisProbe})
 * trust the authority and present {@link #client()}.
 *
 * @param authority the authority that issued the server's and the client's certificates
 * @param server the server's certificate and key
 * @param client a client certificate the server accepts
 * @param authClients the server's {@code tls-auth-clients}: {@code yes}, {@code no} or {@code
 *     optional}
 */
public record RedisTls(
    TestCertificates.Authority authority,
    TestCertificates.Issued server,
    TestCertificates.Issued client,
    String authClients) {

  /** A new authority, a server certificate for 127.0.0.1 and localhost, and a client one. */
  public static RedisTls create(String authClients) {
    TestCertificates.Authority authority = TestCertificates.authority("cachesync test Redis CA");
    return new RedisTls(
        authority,
        authority.server("redis", "127.0.0.1", "localhost"),
        authority.client("client", "cachesync"),
        authClients);
  }

  /**
   * A certificate from the same authority for a server known as {@code names} only: one that does
   * not name the host a client connects to.
   */
  public RedisTls withServerNames(String fileName, String... names) {
    return new RedisTls(authority, authority.server(fileName, names), client, authClients);
  }

  /** The same certificates, with clients' certificates required, optional or ignored. */
  public RedisTls withAuthClients(String authClients) {
    return new RedisTls(authority, server, client, authClients);
  }

  /** The authority's certificate: what a client puts in {@code redis.tls.caFile}. */
  public Path caFile() {
    return authority.certificate();
  }

  /**
   * The {@code redis-server} arguments (or, without the leading dashes, Sentinel directives) that
   * serve TLS only, on {@code port}; replication and Sentinel's links use TLS too, presenting the
   * client certificate.
   */
  public List<String> serverArguments(int port) {
    return List.of(
        "--port",
        "0",
        "--tls-port",
        Integer.toString(port),
        "--tls-cert-file",
        server.certificate().toString(),
        "--tls-key-file",
        server.key().toString(),
        "--tls-client-cert-file",
        client.certificate().toString(),
        "--tls-client-key-file",
        client.key().toString(),
        "--tls-ca-cert-file",
        caFile().toString(),
        "--tls-auth-clients",
        authClients,
        "--tls-replication",
        "yes");
  }

  /** Sentinel's configuration lines for the same. */
  public List<String> sentinelDirectives(int port) {
    List<String> arguments = serverArguments(port);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < arguments.size(); i += 2) {
      lines.add(arguments.get(i).substring(2) + " " + arguments.get(i + 1));
    }
    return lines;
  }

  /** Lettuce's TLS options for a client that trusts the authority and presents the client key. */
  public SslOptions sslOptions() {
    return SslOptions.builder()
        .jdkSslProvider()
        .trustManager(caFile().toFile())
        .keyManager(client.certificate().toFile(), client.key().toFile(), null)
        .build();
  }

  /** Sockets that trust the authority and present the client certificate. */
  public SSLSocketFactory socketFactory() {
    try {
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      trusted.setCertificateEntry("ca", certificate(caFile()));
      TrustManagerFactory trust =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trust.init(trusted);
      char[] password = "test".toCharArray();
      KeyStore own = KeyStore.getInstance("PKCS12");
      own.load(null, null);
      PrivateKey key =
          KeyFactory.getInstance("EC")
              .generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(client.derKey())));
      own.setKeyEntry(
          "client", key, password, new Certificate[] {certificate(client.certificate())});
      KeyManagerFactory keys =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keys.init(own, password);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(keys.getKeyManagers(), trust.getTrustManagers(), null);
      return context.getSocketFactory();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Certificate certificate(Path file) throws IOException, GeneralSecurityException {
    try (InputStream in = Files.newInputStream(file)) {
      return CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }
}
