package io.cachesync.source;

import io.cachesync.config.PostgresTls.SslMode;
import java.sql.SQLException;

/**
 * PostgreSQL does not offer TLS ({@code ssl=off}) and {@code postgres.sslmode} requires it: the
 * servers' setup is wrong, and waiting does not mend it. Its SQLState is pgjdbc's, 08004.
 */
public final class TlsNotOfferedException extends SQLException {
  private static final long serialVersionUID = 1L;

  TlsNotOfferedException(String address, SslMode mode, SQLException cause) {
    super(
        "PostgreSQL at "
            + address
            + " does not offer TLS (ssl=off), which postgres.sslmode "
            + mode.configName()
            + " requires; set ssl=on in postgresql.conf (with ssl_cert_file and ssl_key_file) and"
            + " reload PostgreSQL, or set postgres.sslmode: prefer",
        cause.getSQLState(),
        cause);
  }
}
