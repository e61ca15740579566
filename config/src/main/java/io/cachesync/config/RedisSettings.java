package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;

/**
 * Where the Redis master is: a {@code redis://}, {@code rediss://}, {@code redis-sentinel://},
 * {@code rediss-sentinel://}, {@code redis-cluster://} or {@code rediss-cluster://} URI. {@link
 * #toString()} and {@link #redactedUri()} never show a password.
 *
 * @param waitReplicas how many replicas must acknowledge a batch ({@code WAIT}) before its position
 *     is confirmed to PostgreSQL; 0 confirms once the master acknowledged it
 * @param tls how TLS connections check the server and present a client certificate; only a TLS URI
 *     ({@code rediss://}, {@code rediss-sentinel://}, {@code rediss-cluster://}) may have other
 *     than {@link RedisTlsSettings#DEFAULT}
 */
public record RedisSettings(String uri, int waitReplicas, RedisTlsSettings tls) {

  public static final String DEFAULT_URI = "redis://127.0.0.1:6379";
  public static final int MAX_WAIT_REPLICAS = 100;
  static final List<String> SCHEMES =
      List.of(
          "redis",
          "rediss",
          "redis-sentinel",
          "rediss-sentinel",
          "redis-cluster",
          "rediss-cluster");
  private static final List<String> TLS_SCHEMES =
      List.of("rediss", "rediss-sentinel", "rediss-cluster");
  private static final String PERCENT_ENCODE_HINT =
      "; percent-encode @ : / # ? % in a password (@ as %40, : as %3A, / as %2F, # as %23,"
          + " ? as %3F, % as %25)";

  public RedisSettings {
    requireNonNull(uri, "uri");
    requireNonNull(tls, "tls");
    check(uri);
    if (waitReplicas < 0 || waitReplicas > MAX_WAIT_REPLICAS) {
      throw new IllegalArgumentException(
          "waitReplicas is " + waitReplicas + "; it must be 0 to " + MAX_WAIT_REPLICAS);
    }
    if (!tls.equals(RedisTlsSettings.DEFAULT) && !usesTls(uri)) {
      throw new IllegalArgumentException("TLS settings need a TLS URI: " + tlsWithoutTlsUri(uri));
    }
  }

  /** A master reached without TLS settings of its own. */
  public RedisSettings(String uri, int waitReplicas) {
    this(uri, waitReplicas, RedisTlsSettings.DEFAULT);
  }

  /** A master whose acknowledgement suffices. */
  public RedisSettings(String uri) {
    this(uri, 0);
  }

  /**
   * Whether connections use TLS: {@code rediss://}, {@code rediss-sentinel://} or {@code
   * rediss-cluster://}.
   */
  public boolean usesTls() {
    return usesTls(uri);
  }

  static boolean usesTls(String uri) {
    return TLS_SCHEMES.contains(scheme(uri));
  }

  /** The problem with a {@code redis.tls} section next to a plain-text URI. */
  static String tlsWithoutTlsUri(String uri) {
    String scheme = scheme(uri);
    String tlsScheme = "rediss" + scheme.substring("redis".length());
    return "redis.uri '"
        + redact(uri)
        + "' does not use TLS; write "
        + redact(tlsScheme + uri.substring(scheme.length()))
        + (scheme.equals("redis-sentinel") ? " (TLS to Sentinel and to the master)" : "")
        + " to connect with these settings, or remove redis.tls";
  }

  /**
   * How connections are made, for summaries: {@code TLS, verify full (CA in ..., host name)} or
   * {@code plain text (no TLS)}.
   */
  public String describeTransport() {
    if (!usesTls()) {
      return "plain text (no TLS)";
    }
    String to =
        switch (scheme(uri)) {
          case "rediss-sentinel" -> "TLS to Sentinel and to the master, ";
          case "rediss-cluster" -> "TLS to every node of the cluster, ";
          default -> "TLS, ";
        };
    return to + tls.describe();
  }

  /**
   * Whether the URI names a Redis Cluster: {@code redis-cluster://} or {@code rediss-cluster://}.
   */
  public boolean cluster() {
    return scheme(uri).endsWith("-cluster");
  }

  /**
   * The nodes a cluster URI names, as {@code redis://} or {@code rediss://} URIs of one node each,
   * with the URI's user info and query: the client learns the rest of the cluster from any of them.
   *
   * @throws IllegalStateException when the URI does not name a cluster
   */
  public List<String> clusterSeeds() {
    if (!cluster()) {
      throw new IllegalStateException("not a Redis Cluster URI: " + redactedUri());
    }
    ClusterUri parsed = ClusterUri.parse(uri);
    String scheme = usesTls() ? "rediss" : "redis";
    return parsed.hosts().stream()
        .map(host -> scheme + "://" + parsed.userInfo() + host + parsed.query())
        .toList();
  }

  /**
   * A cluster URI's parts: {@code scheme://[userinfo@]host[:port][,host[:port]...][/0][?query]}.
   *
   * @param userInfo the user info with its {@code @}, or empty
   * @param hosts each {@code host:port}, the port 6379 when left out
   * @param query the query with its {@code ?}, or empty
   */
  private record ClusterUri(String userInfo, List<String> hosts, String query) {
    static ClusterUri parse(String uri) {
      int start = uri.indexOf("://") + 3;
      int at = uri.lastIndexOf('@');
      String userInfo = at >= start ? uri.substring(start, at + 1) : "";
      String rest = uri.substring(at >= start ? at + 1 : start);
      int query = rest.indexOf('?');
      String queryText = query < 0 ? "" : rest.substring(query);
      rest = query < 0 ? rest : rest.substring(0, query);
      int slash = rest.indexOf('/');
      String path = slash < 0 ? "" : rest.substring(slash);
      rest = slash < 0 ? rest : rest.substring(0, slash);
      if (!path.isEmpty() && !path.equals("/") && !path.equals("/0")) {
        throw new IllegalArgumentException(
            "'"
                + redact(uri)
                + "' selects database "
                + path.substring(1)
                + "; a Redis Cluster has database 0 only: remove '"
                + path
                + "'");
      }
      List<String> hosts = new java.util.ArrayList<>();
      for (String host : rest.split(",", -1)) {
        hosts.add(hostAndPort(uri, host.trim()));
      }
      return new ClusterUri(userInfo, List.copyOf(hosts), queryText);
    }

    private static String hostAndPort(String uri, String host) {
      String example = " (e.g. redis-cluster://10.0.0.1:6379,10.0.0.2:6379)";
      if (host.isEmpty()) {
        throw new IllegalArgumentException(
            "'" + redact(uri) + "' has an empty node in its list" + example);
      }
      int colon = host.lastIndexOf(':');
      if (colon < 0 || host.endsWith("]")) {
        return host + ":6379";
      }
      String port = host.substring(colon + 1);
      try {
        int number = Integer.parseInt(port);
        if (number < 1 || number > 65_535 || host.substring(0, colon).isEmpty()) {
          throw new NumberFormatException();
        }
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "'" + redact(uri) + "' names node '" + host + "', which is not host:port" + example);
      }
      return host;
    }
  }

  private static String scheme(String uri) {
    int schemeEnd = uri.indexOf("://");
    return schemeEnd < 0 ? "" : uri.substring(0, schemeEnd);
  }

  /** Checks the form of a URI; the Redis client parses the rest. */
  static void check(String uri) {
    String scheme = scheme(uri);
    if (!SCHEMES.contains(scheme)) {
      throw new IllegalArgumentException(
          "'"
              + redact(uri)
              + "' is not a Redis URI: it starts with redis://, rediss://, redis-sentinel://,"
              + " rediss-sentinel://, redis-cluster:// or rediss-cluster:// (e.g."
              + " redis://127.0.0.1:6379)");
    }
    checkNoVerifyPeer(uri);
    if (scheme.endsWith("-cluster")) {
      ClusterUri.parse(uri);
      return;
    }
    if (scheme.endsWith("-sentinel")) {
      int hash = uri.indexOf('#');
      if (hash < 0 || hash == uri.length() - 1) {
        throw new IllegalArgumentException(
            "'"
                + redact(uri)
                + "' does not name the Sentinel master after '#' (e.g. "
                + scheme
                + "://127.0.0.1:26379#mymaster)");
      }
      return;
    }
    try {
      URI parsed = new URI(uri);
      if (parsed.getHost() == null) {
        throw new IllegalArgumentException(
            "'"
                + redact(uri)
                + "' names no host (e.g. redis://127.0.0.1:6379)"
                + percentEncodeHint(uri));
      }
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "'" + redact(uri) + "' is not a valid URI: " + e.getReason() + percentEncodeHint(uri));
    }
  }

  /**
   * The Redis client reads {@code verifyPeer=NONE|CA|FULL} from a URI's query; {@code redis.tls}
   * says how the server is checked, and no setting may turn the check off.
   */
  private static void checkNoVerifyPeer(String uri) {
    int at = uri.lastIndexOf('@');
    int query = uri.indexOf('?', Math.max(at, 0));
    if (query < 0) {
      return;
    }
    for (String parameter : uri.substring(query + 1).split("[&#]")) {
      if (parameter.toLowerCase(Locale.ROOT).startsWith("verifypeer=")) {
        throw new IllegalArgumentException(
            "'"
                + redact(uri)
                + "' sets verifyPeer; remove it and set redis.tls.verify instead (full, the"
                + " default, checks the CA and the host name; ca checks the CA only)");
      }
    }
  }

  /**
   * When a host follows the URI's last {@code @} but the URI did not parse to one, a password
   * probably holds a delimiter that must be percent-encoded.
   */
  private static String percentEncodeHint(String uri) {
    int at = uri.lastIndexOf('@');
    return at < 0 || at == uri.length() - 1 || uri.charAt(at + 1) == '/' ? "" : PERCENT_ENCODE_HINT;
  }

  /**
   * {@code uri} with {@code password} (from {@code redis.passwordFile}) in its user info,
   * percent-encoded, so that the URI is what the operator would have written with the password in
   * it: every reader of the URI, and {@link #redact}, treats it the same. User info already in
   * {@code uri} is the ACL user name ({@code redis://cachesync@host} or {@code
   * redis://cachesync:@host}); a password already in it is an error.
   */
  static String withPassword(String uri, String password) {
    int start = uri.indexOf("://") + 3;
    int at = uri.lastIndexOf('@');
    String user = "";
    if (at >= start) {
      String userInfo = uri.substring(start, at);
      int colon = userInfo.indexOf(':');
      if (colon >= 0 && colon < userInfo.length() - 1) {
        throw new IllegalArgumentException(
            "redis.uri '"
                + redact(uri)
                + "' holds a password and redis.passwordFile is set; keep one of them (with"
                + " passwordFile, the URI names only the user: redis://USER@host:port)");
      }
      user = colon < 0 ? userInfo : userInfo.substring(0, colon);
    }
    String rest = uri.substring(at >= start ? at + 1 : start);
    // ":password" even without a user: Lettuce decodes the user info before it splits it at its
    // first ':', so a password alone that holds ':' would be split into a user and a password.
    String userInfo = user + ":" + percentEncode(password);
    return uri.substring(0, start) + userInfo + "@" + rest;
  }

  /** Every byte but RFC 3986's unreserved characters as {@code %XX}. */
  private static String percentEncode(String text) {
    StringBuilder encoded = new StringBuilder();
    for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~') {
        encoded.append(c);
      } else {
        encoded.append('%').append(String.format("%02X", b & 0xff));
      }
    }
    return encoded.toString();
  }

  public String redactedUri() {
    return redact(uri);
  }

  /**
   * Replaces the password part of a URI's user info with {@code ****}; every printer of a Redis URI
   * uses this. The user info ends at the <em>last</em> {@code @} of the URI, since a password may
   * hold {@code @}, {@code :}, {@code /}, {@code #} or {@code ?}, raw or percent-encoded, and a
   * Redis URI's path, query and fragment (a database number, options, a Sentinel master) hold no
   * {@code @}. What comes before the first {@code :} of the user info is the user name; user info
   * without a {@code :} is a password alone, as Lettuce reads it. A text that is not a URI at all
   * is redacted the same way from its start, so that no form of input leaks a password.
   */
  public static String redact(String uri) {
    int schemeEnd = uri.indexOf("://");
    int start = schemeEnd < 0 ? 0 : schemeEnd + 3;
    int at = uri.lastIndexOf('@');
    if (at < start) {
      return uri;
    }
    String userInfo = uri.substring(start, at);
    int colon = userInfo.indexOf(':');
    String user = colon < 0 || schemeEnd < 0 ? "" : userInfo.substring(0, colon);
    String redacted = user.isEmpty() || user.indexOf('@') >= 0 ? "****" : user + ":****";
    if (colon == 0) {
      redacted = ":****";
    }
    return uri.substring(0, start) + redacted + uri.substring(at);
  }

  @Override
  public String toString() {
    return "RedisSettings[uri="
        + redactedUri()
        + ", waitReplicas="
        + waitReplicas
        + ", tls="
        + tls
        + "]";
  }
}
