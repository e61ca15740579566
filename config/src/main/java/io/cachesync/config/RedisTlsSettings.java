package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;

/**
 * How a {@code rediss://} (or {@code rediss-sentinel://}) connection checks the server and proves
 * who the client is: the {@code redis.tls} section. Every connection to Redis uses it, to Sentinel
 * and to the master alike.
 *
 * @param caFile PEM certificates of the authorities to trust instead of the JDK's trust store
 * @param certFile the client's PEM certificate (chain), for servers that require one ({@code
 *     tls-auth-clients yes}); given with {@code keyFile} or not at all
 * @param keyFile the client's unencrypted PKCS #8 PEM private key
 * @param verify what of the server's certificate is checked
 */
public record RedisTlsSettings(
    Optional<Path> caFile, Optional<Path> certFile, Optional<Path> keyFile, Verify verify) {

  /** The JDK's trust store, no client certificate, the host name checked. */
  public static final RedisTlsSettings DEFAULT =
      new RedisTlsSettings(Optional.empty(), Optional.empty(), Optional.empty(), Verify.FULL);

  /**
   * What is checked of the server's certificate. There is no mode that checks nothing: a connection
   * that trusts any certificate is not worth encrypting.
   */
  public enum Verify {
    /** Issued by a trusted authority, and naming the host connected to. */
    FULL("full"),
    /** Issued by a trusted authority, whatever host it names. */
    CA("ca");

    private final String configName;

    Verify(String configName) {
      this.configName = configName;
    }

    /** How the mode is written in {@code synchronizer.yml}. */
    public String configName() {
      return configName;
    }
  }

  public RedisTlsSettings {
    requireNonNull(caFile, "caFile");
    requireNonNull(certFile, "certFile");
    requireNonNull(keyFile, "keyFile");
    requireNonNull(verify, "verify");
    if (certFile.isPresent() != keyFile.isPresent()) {
      throw new IllegalArgumentException(
          "a client certificate needs both certFile and keyFile; "
              + (certFile.isPresent() ? "keyFile" : "certFile")
              + " is missing");
    }
  }

  /** Whether a client certificate is sent (mutual TLS). */
  public boolean clientCertificate() {
    return certFile.isPresent();
  }

  /**
   * How the server is checked, for summaries: {@code verify full (CA in /etc/ca.pem, host name)}.
   */
  public String describe() {
    String authorities = caFile.map(file -> "CA in " + file).orElse("CA in the JDK's trust store");
    String checks =
        verify == Verify.FULL ? authorities + " and host name" : authorities + ", any host name";
    return "verify "
        + verify.configName()
        + " ("
        + checks
        + ")"
        + certFile.map(file -> ", client certificate " + file).orElse("");
  }
}
