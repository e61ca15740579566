package io.cachesync.redis;

import io.cachesync.config.RedisSettings;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisURI;
import java.net.URI;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * Why a connection to Redis (or to Sentinel) could not be made, told in one line that names the
 * server's host and port, the setting to check and the cause: a certificate the settings do not
 * trust or that names another host, a client certificate the server wants or refuses, a plain-text
 * server behind {@code rediss://} or a TLS server behind {@code redis://}, a refused login. Those
 * are {@linkplain #refused() refusals}: the server answered, and trying again cannot help until the
 * configuration or the server changes. Anything else means the server cannot be reached.
 *
 * @param refused whether the server answered but the connection cannot work as configured
 * @param certificate whether it is refused for a certificate (one side's certificate the other does
 *     not accept): a change on either side mends it, as for an outage, so it counts as one (exit
 *     3), while a login or a plain-text/TLS mismatch is the configuration's (exit 2)
 * @param address where the connection failed: the redacted URI, or for a TLS refusal the {@code
 *     host:port} of the server that failed (a Sentinel, or the master)
 * @param message when refused, the whole line (naming the server, the cause and the setting to
 *     check); otherwise the cause
 */
record ConnectionFailure(boolean refused, boolean certificate, String address, String message) {
  private static final Pattern UNABLE_TO_CONNECT =
      Pattern.compile("Unable to connect to (\\S+?)(?:/\\S*)?:(\\d+)$");
  private static final Pattern SENTINEL_AT =
      Pattern.compile("Cannot connect Redis Sentinel at (\\S+)");
  private static final Pattern ALERT = Pattern.compile("Received fatal alert: (\\w+)");
  private static final List<String> CLIENT_CERTIFICATE_ALERTS =
      List.of(
          "bad_certificate",
          "unknown_ca",
          "certificate_unknown",
          "certificate_expired",
          "certificate_revoked",
          "unsupported_certificate",
          "access_denied",
          "decrypt_error");

  /** Where a connection failed: a Sentinel, or a Redis server (the master, or the only one). */
  record Endpoint(boolean sentinel, String host, int port) {
    String address() {
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    String describe() {
      return (sentinel ? "Redis Sentinel at " : "Redis at ") + address();
    }
  }

  /** Looks at a port from outside the client: {@link PortProbe} in production. */
  interface Probe {
    Optional<List<X509Certificate>> tlsCertificates(String host, int port);

    boolean answersPlainText(String host, int port);
  }

  static final Probe PORTS =
      new Probe() {
        @Override
        public Optional<List<X509Certificate>> tlsCertificates(String host, int port) {
          return PortProbe.tlsCertificates(host, port);
        }

        @Override
        public boolean answersPlainText(String host, int port) {
          return PortProbe.answersPlainText(host, port);
        }
      };

  /** Why connecting with {@code settings} failed with {@code failure}, looking at the port. */
  static ConnectionFailure of(RedisSettings settings, Throwable failure) {
    return of(settings, failure, PORTS);
  }

  static ConnectionFailure of(RedisSettings settings, Throwable failure, Probe probe) {
    Endpoint endpoint = endpoint(settings, failure);
    Throwable root = LettuceClients.rootCause(failure);
    if (root instanceof RedisCommandExecutionException login) {
      return new ConnectionFailure(
          true,
          false,
          settings.redactedUri(),
          "Redis at "
              + settings.redactedUri()
              + " refused the connection: "
              + login.getMessage()
              + "; check the user and password in redis.uri (or redis.passwordFile)");
    }
    Optional<String> tls = tlsProblem(settings, endpoint, failure, probe);
    if (tls.isPresent()) {
      return new ConnectionFailure(true, true, endpoint.address(), tls.get());
    }
    if (settings.usesTls() && find(failure, ConnectionFailure::timedOut).isPresent()) {
      if (probe.answersPlainText(endpoint.host(), endpoint.port())) {
        return refused(endpoint, plainTextServer(settings, endpoint));
      }
      return unreachable(
          settings,
          "no TLS handshake with "
              + endpoint.address()
              + " within "
              + LettuceClients.CONNECT_TIMEOUT.toSeconds()
              + " s ("
              + message(root)
              + "); check that the port in redis.uri is the server's tls-port");
    }
    if (!settings.usesTls()
        && find(failure, ConnectionFailure::closedByPeer).isPresent()
        && probe.tlsCertificates(endpoint.host(), endpoint.port()).isPresent()) {
      return refused(endpoint, tlsServer(endpoint, root));
    }
    return unreachable(settings, message(root));
  }

  /**
   * What a TLS failure of a connection in use means, without looking at the port: for the log lines
   * of retries while the daemon runs. Empty when {@code failure} is not about TLS.
   */
  static Optional<String> tlsCause(Throwable failure) {
    if (find(failure, ConnectionFailure::untrusted).isPresent()) {
      return Optional.of(
          "the server's TLS certificate is not issued by a CA in redis.tls.caFile ("
              + message(LettuceClients.rootCause(failure))
              + ")");
    }
    if (find(failure, ConnectionFailure::wrongHost).isPresent()) {
      return Optional.of(
          "the server's TLS certificate does not name the host connected to ("
              + message(find(failure, ConnectionFailure::wrongHost).get())
              + ")");
    }
    return alert(failure)
        .map(alert -> "the server ended the TLS handshake (alert " + alert + "); check redis.tls");
  }

  private static Optional<String> tlsProblem(
      RedisSettings settings, Endpoint endpoint, Throwable failure, Probe probe) {
    Optional<Throwable> expired = find(failure, ConnectionFailure::expired);
    if (expired.isPresent()) {
      return Optional.of(
          endpoint.describe()
              + ": its TLS certificate"
              + presented(endpoint, probe)
              + " has expired or is not valid yet ("
              + message(expired.get())
              + "); renew the server's certificate");
    }
    Optional<Throwable> untrusted = find(failure, ConnectionFailure::untrusted);
    if (untrusted.isPresent()) {
      String trusted =
          settings
              .tls()
              .caFile()
              .map(file -> "redis.tls.caFile (" + file + ")")
              .orElse("the JDK's trust store (redis.tls.caFile is not set)");
      return Optional.of(
          endpoint.describe()
              + ": its TLS certificate"
              + presented(endpoint, probe)
              + " is not issued by a CA in "
              + trusted
              + "; point redis.tls.caFile at the PEM certificate of the CA that issued it ("
              + message(LettuceClients.rootCause(untrusted.get()))
              + ")");
    }
    Optional<Throwable> wrongHost = find(failure, ConnectionFailure::wrongHost);
    if (wrongHost.isPresent()) {
      String names =
          probe
              .tlsCertificates(endpoint.host(), endpoint.port())
              .map(chain -> names(chain.get(0)))
              .map(list -> " names " + list + ", not " + endpoint.host())
              .orElse(" does not name " + endpoint.host());
      String where;
      if (settings.cluster() && !seed(settings, endpoint)) {
        where =
            "the address the cluster gives for the node (the one CLUSTER NODES shows, set by"
                + " cluster-announce-ip on the node)";
      } else if (endpoint.sentinel() || !settings.uri().contains("-sentinel://")) {
        where = "the host in redis.uri";
      } else {
        where =
            "the address Sentinel gives for the master (sentinel announce-ip, or"
                + " replica-announce-ip on the server)";
      }
      return Optional.of(
          endpoint.describe()
              + ": its TLS certificate"
              + names
              + " ("
              + message(wrongHost.get())
              + "); make "
              + where
              + " one of the certificate's names, or reissue the certificate for "
              + endpoint.host()
              + " (redis.tls.verify: ca skips the host name check)");
    }
    Optional<String> alert = alert(failure);
    if (alert.isPresent()) {
      return Optional.of(clientCertificateProblem(settings, endpoint, alert.get()));
    }
    if (settings.usesTls() && find(failure, ConnectionFailure::notTls).isPresent()) {
      if (probe.answersPlainText(endpoint.host(), endpoint.port())) {
        return Optional.of(plainTextServer(settings, endpoint));
      }
      return Optional.of(
          endpoint.describe()
              + " does not speak TLS ("
              + message(find(failure, ConnectionFailure::notTls).get())
              + "); point redis.uri at the server's tls-port");
    }
    return Optional.empty();
  }

  /**
   * Whether {@code endpoint} is a node as {@code redis.uri} names it, rather than at the address
   * the cluster gives for it, which the client connects to once it read the topology.
   */
  private static boolean seed(RedisSettings settings, Endpoint endpoint) {
    return settings.clusterSeeds().stream()
        .map(RedisURI::create)
        .anyMatch(
            seed ->
                seed.getHost().equalsIgnoreCase(endpoint.host())
                    && seed.getPort() == endpoint.port());
  }

  private static String clientCertificateProblem(
      RedisSettings settings, Endpoint endpoint, String alert) {
    if (!settings.tls().clientCertificate()
        && (alert.equals("certificate_required")
            || alert.equals("handshake_failure")
            || CLIENT_CERTIFICATE_ALERTS.contains(alert))) {
      return endpoint.describe()
          + " requires a client certificate (TLS alert "
          + alert
          + "); set redis.tls.certFile and redis.tls.keyFile to a certificate issued by a CA the"
          + " server trusts (its tls-ca-cert-file)";
    }
    if (settings.tls().clientCertificate() && CLIENT_CERTIFICATE_ALERTS.contains(alert)) {
      return endpoint.describe()
          + " refused the client certificate in redis.tls.certFile ("
          + settings.tls().certFile().orElseThrow()
          + ") (TLS alert "
          + alert
          + "); it must be issued by a CA the server trusts (its tls-ca-cert-file), be valid"
          + " now, and match redis.tls.keyFile";
    }
    return endpoint.describe()
        + " ended the TLS handshake (TLS alert "
        + alert
        + "); check redis.tls against the server's tls-* settings (protocols, ciphers, client"
        + " certificates)";
  }

  private static String plainTextServer(RedisSettings settings, Endpoint endpoint) {
    return endpoint.describe()
        + " answers in plain text, not TLS; point redis.uri at the server's tls-port, or use "
        + (settings.uri().contains("-sentinel://") ? "redis-sentinel://" : "redis://")
        + " for a server without TLS (and remove redis.tls)";
  }

  private static String tlsServer(Endpoint endpoint, Throwable root) {
    return endpoint.describe()
        + " speaks TLS (it closed the plain-text connection: "
        + message(root)
        + "); use "
        + (endpoint.sentinel() ? "rediss-sentinel://" : "rediss://")
        + " in redis.uri, with redis.tls.caFile for a CA of your own";
  }

  /** " (CN=..., issued by CN=...)" of what the server presents, or nothing when unseen. */
  private static String presented(Endpoint endpoint, Probe probe) {
    return probe
        .tlsCertificates(endpoint.host(), endpoint.port())
        .map(chain -> chain.get(0))
        .map(
            certificate ->
                " ("
                    + certificate.getSubjectX500Principal().getName()
                    + ", issued by "
                    + certificate.getIssuerX500Principal().getName()
                    + ")")
        .orElse("");
  }

  /** The host names and addresses a certificate is valid for. */
  static String names(X509Certificate certificate) {
    List<String> names = new ArrayList<>();
    try {
      if (certificate.getSubjectAlternativeNames() != null) {
        for (List<?> name : certificate.getSubjectAlternativeNames()) {
          int type = (Integer) name.get(0);
          if (type == 2 || type == 7) {
            names.add(String.valueOf(name.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // Fall back on the common name.
    }
    if (names.isEmpty()) {
      names.add(certificate.getSubjectX500Principal().getName());
    }
    return String.join(", ", names);
  }

  /**
   * The server that failed, as the client's exceptions name it, else the one in the URI (a
   * cluster's first seed).
   */
  static Endpoint endpoint(RedisSettings settings, Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = next(cause)) {
      String message = String.valueOf(cause.getMessage());
      Matcher sentinel = SENTINEL_AT.matcher(message);
      if (sentinel.find()) {
        Optional<Endpoint> parsed = parse(sentinel.group(1), true);
        if (parsed.isPresent()) {
          return parsed.get();
        }
      }
      Matcher server = UNABLE_TO_CONNECT.matcher(message);
      if (server.find()) {
        return new Endpoint(false, server.group(1), Integer.parseInt(server.group(2)));
      }
    }
    // A cluster's URI names several nodes, which Lettuce does not parse as one: the first seed.
    RedisURI uri =
        RedisURI.create(settings.cluster() ? settings.clusterSeeds().get(0) : settings.uri());
    if (!uri.getSentinels().isEmpty()) {
      RedisURI first = uri.getSentinels().get(0);
      return new Endpoint(true, first.getHost(), first.getPort());
    }
    return new Endpoint(false, uri.getHost(), uri.getPort());
  }

  private static Optional<Endpoint> parse(String uri, boolean sentinel) {
    try {
      URI parsed = URI.create(uri);
      return parsed.getHost() == null || parsed.getPort() < 0
          ? Optional.empty()
          : Optional.of(new Endpoint(sentinel, stripBrackets(parsed.getHost()), parsed.getPort()));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static String stripBrackets(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  private static Optional<String> alert(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = next(cause)) {
      if (cause instanceof SSLException) {
        Matcher alert = ALERT.matcher(String.valueOf(cause.getMessage()));
        if (alert.find()) {
          return Optional.of(alert.group(1));
        }
      }
    }
    return Optional.empty();
  }

  private static boolean expired(Throwable cause) {
    return cause instanceof CertificateExpiredException
        || cause instanceof CertificateNotYetValidException
        || cause instanceof CertPathValidatorException validator
            && validator.getReason() == CertPathValidatorException.BasicReason.EXPIRED;
  }

  private static boolean untrusted(Throwable cause) {
    return cause instanceof CertPathBuilderException
        || cause instanceof CertPathValidatorException
        || String.valueOf(cause.getMessage()).startsWith("PKIX path");
  }

  private static boolean wrongHost(Throwable cause) {
    String message = String.valueOf(cause.getMessage());
    return cause instanceof java.security.cert.CertificateException
        && (message.startsWith("No subject alternative") || message.startsWith("No name matching"));
  }

  private static boolean notTls(Throwable cause) {
    return cause.getClass().getSimpleName().equals("NotSslRecordException")
        || String.valueOf(cause.getMessage()).contains("Unsupported or unrecognized SSL message");
  }

  private static boolean timedOut(Throwable cause) {
    return cause instanceof RedisCommandTimeoutException
        || cause.getClass().getSimpleName().equals("SslHandshakeTimeoutException");
  }

  private static boolean closedByPeer(Throwable cause) {
    String message = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
    return message.contains("connection reset")
        || message.contains("closed prematurely")
        || message.contains("connection closed")
        || cause instanceof java.nio.channels.ClosedChannelException;
  }

  private static Optional<Throwable> find(Throwable failure, Predicate<Throwable> test) {
    for (Throwable cause = failure; cause != null; cause = next(cause)) {
      if (test.test(cause)) {
        return Optional.of(cause);
      }
      for (Throwable suppressed : cause.getSuppressed()) {
        Optional<Throwable> found = find(suppressed, test);
        if (found.isPresent()) {
          return found;
        }
      }
    }
    return Optional.empty();
  }

  private static Throwable next(Throwable cause) {
    return cause.getCause() == cause ? null : cause.getCause();
  }

  private static String message(Throwable cause) {
    String message = cause.getMessage();
    return message == null ? cause.getClass().getSimpleName() : message;
  }

  private static ConnectionFailure refused(Endpoint endpoint, String message) {
    return new ConnectionFailure(true, false, endpoint.address(), message);
  }

  private static ConnectionFailure unreachable(RedisSettings settings, String message) {
    return new ConnectionFailure(false, false, settings.redactedUri(), message);
  }
}
