package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * How every connection to PostgreSQL uses TLS: the {@code postgres.sslmode}, {@code sslrootcert},
 * {@code sslcert} and {@code sslkey} settings, named as libpq names them. Paths are absolute.
 *
 * @param sslmode whether to encrypt and what to check of the server's certificate
 * @param sslrootcert the CA certificates (PEM) the server's certificate must chain to; empty when
 *     the Java runtime's trusted CAs are used ({@code systemRoots}) or nothing is checked
 * @param systemRoots {@code sslrootcert: system}: the CAs the Java runtime trusts
 * @param sslcert the client certificate (PEM), sent when the server asks for one
 * @param sslkey the client certificate's private key (PEM or PKCS #8 DER), read into memory only
 */
public record PostgresTls(
    SslMode sslmode,
    Optional<Path> sslrootcert,
    boolean systemRoots,
    Optional<Path> sslcert,
    Optional<Path> sslkey) {

  /** What an absent {@code sslmode} means: as libpq, encrypt when the server offers it. */
  public static final PostgresTls DEFAULT =
      new PostgresTls(SslMode.PREFER, Optional.empty(), false, Optional.empty(), Optional.empty());

  /** The value of {@code sslrootcert} that means the Java runtime's trusted CAs (as libpq 16). */
  public static final String SYSTEM_ROOTS = "system";

  /** {@code postgres.sslmode}, with libpq's names; libpq's {@code allow} is not offered. */
  public enum SslMode {
    /** Never encrypt. */
    DISABLE,
    /** Encrypt when the server offers TLS; check nothing of its certificate. */
    PREFER,
    /** Encrypt or fail; check nothing of the server's certificate. */
    REQUIRE,
    /** Encrypt, and check that the server's certificate is signed by a trusted CA. */
    VERIFY_CA,
    /** As {@link #VERIFY_CA}, and check that the certificate names {@code postgres.host}. */
    VERIFY_FULL;

    /** The name used in synchronizer.yml and by libpq and pgjdbc. */
    public String configName() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Whether a connection fails when it cannot be encrypted. */
    public boolean requiresTls() {
      return this == REQUIRE || this == VERIFY_CA || this == VERIFY_FULL;
    }

    /** Whether the server's certificate is checked against trusted CAs. */
    public boolean verifiesCertificate() {
      return this == VERIFY_CA || this == VERIFY_FULL;
    }
  }

  public PostgresTls {
    requireNonNull(sslmode, "sslmode");
    requireNonNull(sslrootcert, "sslrootcert");
    requireNonNull(sslcert, "sslcert");
    requireNonNull(sslkey, "sslkey");
    if (systemRoots && sslrootcert.isPresent()) {
      throw new IllegalArgumentException("sslrootcert is either a file or the system's CAs");
    }
    if (sslmode.verifiesCertificate() != (systemRoots || sslrootcert.isPresent())) {
      throw new IllegalArgumentException(
          "sslmode "
              + sslmode.configName()
              + " goes with a root certificate exactly when it checks");
    }
    if (sslcert.isPresent() != sslkey.isPresent()) {
      throw new IllegalArgumentException("a client certificate needs its key and the other way");
    }
  }

  /** Whether a client certificate is configured. */
  public boolean clientCertificate() {
    return sslcert.isPresent();
  }

  /** The settings as one line, for logs and {@code validate}. */
  public String describe() {
    StringBuilder text = new StringBuilder("sslmode ").append(sslmode.configName());
    if (systemRoots) {
      text.append(", CAs of the Java runtime");
    }
    sslrootcert.ifPresent(file -> text.append(", CAs in ").append(file));
    sslcert.ifPresent(file -> text.append(", client certificate ").append(file));
    return text.toString();
  }
}
