package io.cachesync.source;

import io.cachesync.config.PemReader;
import io.cachesync.config.PostgresTls;
import io.cachesync.config.PostgresTls.SslMode;
import java.io.IOException;
import java.net.IDN;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import javax.security.auth.x500.X500Principal;
import org.postgresql.ssl.PGjdbcHostnameVerifier;

/**
 * Decides whether cachesync trusts the PostgreSQL server's certificate, as {@code postgres.sslmode}
 * says: not at all checked under {@code prefer} and {@code require}; signed by a CA of {@code
 * postgres.sslrootcert} under {@code verify-ca}; and naming the host connected to under {@code
 * verify-full}, by pgjdbc's rules (subject alternative names, else the common name), which pgjdbc
 * applies once more after the handshake. A certificate it refuses fails the handshake with a {@link
 * PostgresTlsException} whose one line says why and what to change.
 */
final class ServerCertificateCheck extends X509ExtendedTrustManager {
  private static final int DNS_NAME = 2;
  private static final int IP_ADDRESS = 7;

  private final SslMode mode;

  /** The trusted CAs; null when the mode checks nothing. */
  private final X509TrustManager trusted;

  /** Where the trusted CAs come from, for messages. */
  private final String roots;

  private ServerCertificateCheck(SslMode mode, X509TrustManager trusted, String roots) {
    this.mode = mode;
    this.trusted = trusted;
    this.roots = roots;
  }

  /**
   * The check for these settings.
   *
   * @param rootFile the PEM file of trusted CAs, if the mode checks the certificate and {@code
   *     systemRoots} is false
   * @throws PostgresTlsException when the CA file cannot be used
   */
  static ServerCertificateCheck of(SslMode mode, Path rootFile, boolean systemRoots)
      throws PostgresTlsException {
    if (!mode.verifiesCertificate()) {
      return new ServerCertificateCheck(mode, null, "");
    }
    try {
      TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
      if (systemRoots) {
        factory.init((KeyStore) null);
        return new ServerCertificateCheck(
            mode,
            x509(factory.getTrustManagers()),
            "the CAs the Java runtime trusts (postgres.sslrootcert: "
                + PostgresTls.SYSTEM_ROOTS
                + ")");
      }
      Set<TrustAnchor> anchors = new HashSet<>();
      for (X509Certificate certificate : PemReader.certificates(rootFile)) {
        anchors.add(new TrustAnchor(certificate, null));
      }
      PKIXBuilderParameters parameters = new PKIXBuilderParameters(anchors, null);
      // As pgjdbc and libpq without a CRL: no revocation check.
      parameters.setRevocationEnabled(false);
      factory.init(new CertPathTrustManagerParameters(parameters));
      return new ServerCertificateCheck(
          mode, x509(factory.getTrustManagers()), "postgres.sslrootcert (" + rootFile + ")");
    } catch (IOException e) {
      throw new PostgresTlsException(
          "postgres.sslrootcert: cannot read " + rootFile + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new PostgresTlsException("postgres.sslrootcert: " + e.getMessage());
    } catch (GeneralSecurityException e) {
      throw new PostgresTlsException(
          "the trusted CAs of "
              + (systemRoots ? "the Java runtime" : rootFile.toString())
              + " cannot be used: "
              + e.getMessage());
    }
  }

  private static X509TrustManager x509(TrustManager[] managers) throws GeneralSecurityException {
    for (TrustManager manager : managers) {
      if (manager instanceof X509TrustManager x509) {
        return x509;
      }
    }
    throw new GeneralSecurityException("no X.509 trust manager");
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    SSLSession session = socket instanceof SSLSocket ssl ? ssl.getHandshakeSession() : null;
    check(chain, authType, session == null ? null : session.getPeerHost());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    SSLSession session = engine == null ? null : engine.getHandshakeSession();
    check(chain, authType, session == null ? null : session.getPeerHost());
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    check(chain, authType, null);
  }

  /**
   * Checks a server's certificate chain.
   *
   * @param host the host name connected to, which verify-full checks the certificate names; null
   *     when it is not known (verify-full then fails)
   */
  void check(X509Certificate[] chain, String authType, String host) throws CertificateException {
    if (trusted == null) {
      return;
    }
    if (chain == null || chain.length == 0) {
      throw new PostgresTlsException("the server sent no certificate");
    }
    try {
      trusted.checkServerTrusted(chain, authType);
    } catch (CertificateException e) {
      throw untrusted(chain[0], e);
    }
    if (mode == SslMode.VERIFY_FULL) {
      checkHost(chain[0], host);
    }
  }

  private PostgresTlsException untrusted(X509Certificate leaf, CertificateException e) {
    String certificate = "the server's certificate (" + name(leaf.getSubjectX500Principal());
    try {
      leaf.checkValidity();
    } catch (CertificateExpiredException expired) {
      return new PostgresTlsException(
          certificate
              + ") expired on "
              + leaf.getNotAfter().toInstant()
              + "; give the server a new one (ssl_cert_file in postgresql.conf)");
    } catch (CertificateNotYetValidException early) {
      return new PostgresTlsException(
          certificate
              + ") is valid only from "
              + leaf.getNotBefore().toInstant()
              + "; check the clocks of both machines");
    }
    String issued = certificate + ", issued by " + name(leaf.getIssuerX500Principal()) + ")";
    if (causedBy(e, CertPathBuilderException.class)) {
      return new PostgresTlsException(
          issued
              + " is not signed by a CA in "
              + roots
              + "; put the certificate of the CA that signed it there");
    }
    return new PostgresTlsException(
        issued + " is not trusted by " + roots + ": " + rootCause(e).getMessage());
  }

  /** The host name check of verify-full, by pgjdbc's rules. */
  private static void checkHost(X509Certificate leaf, String host) throws PostgresTlsException {
    if (host == null) {
      throw new PostgresTlsException(
          "the host name the server's certificate must name is not known; sslmode verify-full"
              + " cannot be checked");
    }
    String canonical =
        host.startsWith("[") && host.endsWith("]")
            ? host.substring(1, host.length() - 1)
            : IDN.toASCII(host);
    List<String> names = new ArrayList<>();
    boolean dnsNames = false;
    try {
      Collection<List<?>> alternatives = leaf.getSubjectAlternativeNames();
      if (alternatives != null) {
        for (List<?> alternative : alternatives) {
          if (alternative.size() == 2
              && (DNS_NAME == (Integer) alternative.get(0)
                  || IP_ADDRESS == (Integer) alternative.get(0))
              && alternative.get(1) instanceof String name) {
            names.add(name);
            dnsNames |= DNS_NAME == (Integer) alternative.get(0);
          }
        }
      }
    } catch (CertificateParsingException e) {
      throw new PostgresTlsException(
          "the server's certificate has subject alternative names that cannot be read: "
              + e.getMessage());
    }
    if (!dnsNames) {
      commonName(leaf).ifPresent(names::add);
    }
    for (String name : names) {
      if (PGjdbcHostnameVerifier.INSTANCE.verifyHostName(canonical, name)) {
        return;
      }
    }
    throw new PostgresTlsException(
        "the server's certificate ("
            + name(leaf.getSubjectX500Principal())
            + ") names "
            + (names.isEmpty() ? "no host" : String.join(", ", names))
            + ", not "
            + host
            + " (postgres.host); set postgres.host to a name the certificate holds, or give the"
            + " server a certificate for "
            + host
            + " (sslmode verify-ca would not check the name)");
  }

  /** The most specific common name of a certificate's subject, as pgjdbc picks it. */
  private static Optional<String> commonName(X509Certificate certificate) {
    try {
      List<String> names = new ArrayList<>();
      LdapName subject =
          new LdapName(certificate.getSubjectX500Principal().getName(X500Principal.RFC2253));
      for (Rdn rdn : subject.getRdns()) {
        if ("CN".equalsIgnoreCase(rdn.getType())) {
          names.add(String.valueOf(rdn.getValue()));
        }
      }
      names.sort(PGjdbcHostnameVerifier.HOSTNAME_PATTERN_COMPARATOR);
      return names.isEmpty() ? Optional.empty() : Optional.of(names.get(names.size() - 1));
    } catch (InvalidNameException e) {
      return Optional.empty();
    }
  }

  private static String name(X500Principal principal) {
    return principal.getName(X500Principal.RFC2253);
  }

  private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (type.isInstance(cause)) {
        return true;
      }
      if (cause.getCause() == cause) {
        break;
      }
    }
    return false;
  }

  private static Throwable rootCause(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    throw new CertificateException("cachesync is a client; it checks no client certificates");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    throw new CertificateException("cachesync is a client; it checks no client certificates");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("cachesync is a client; it checks no client certificates");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return trusted == null ? new X509Certificate[0] : trusted.getAcceptedIssuers();
  }
}
