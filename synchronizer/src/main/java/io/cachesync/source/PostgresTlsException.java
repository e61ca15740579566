package io.cachesync.source;

import java.security.cert.CertificateException;

/**
 * TLS with PostgreSQL failed for a reason cachesync could name: the server's certificate is not
 * trusted, has expired or is for another host, or a file of {@code postgres.sslrootcert}, {@code
 * sslcert} or {@code sslkey} cannot be used. The message is one line that names the setting to
 * check; it never holds a key. It reaches {@link PostgresConnector} as the cause of the driver's
 * connection failure; a {@link CertificateException} so that a trust manager may throw it.
 */
public final class PostgresTlsException extends CertificateException {
  private static final long serialVersionUID = 1L;

  public PostgresTlsException(String message) {
    super(message);
  }
}
