package io.cachesync.testing;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How a test PostgreSQL serves TLS ({@link TestServers#postgres(java.util.Map, ServerTls)}): {@code
 * ssl=on} with {@code certificate} and its key, client certificates checked against {@code
 * clientCa} ({@code ssl_ca_file}), and a {@code pg_hba.conf} whose TCP lines are all {@code
 * hostssl}: the superuser and every other role log in as on any test server, over TLS only, and
 * {@link #CERT_ROLE} only with a client certificate whose common name it is ({@code cert}, which
 * means {@code clientcert=verify-full}).
 */
public record ServerTls(TestCertificates.Issued certificate, Path clientCa) {

  /** A superuser that logs in with a client certificate only ({@code CN=cachesync_cert}). */
  public static final String CERT_ROLE = "cachesync_cert";

  public ServerTls {
    Objects.requireNonNull(certificate, "certificate");
    Objects.requireNonNull(clientCa, "clientCa");
  }
}
