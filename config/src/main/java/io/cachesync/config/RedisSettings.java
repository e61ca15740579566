package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the Redis master is: a {@code redis://}, {@code rediss://} or {@code redis-sentinel://}
 * URI. {@link #toString()} and {@link #redactedUri()} never show a password.
 *
 * @param waitReplicas how many replicas must acknowledge a batch ({@code WAIT}) before its position
 *     is confirmed to PostgreSQL; 0 confirms once the master acknowledged it
 */
public record RedisSettings(String uri, int waitReplicas) {

  public static final String DEFAULT_URI = "redis://127.0.0.1:6379";
  public static final int MAX_WAIT_REPLICAS = 100;
  static final List<String> SCHEMES = List.of("redis", "rediss", "redis-sentinel");

  private static final Pattern USER_INFO =
      Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*://)([^@/]*)@");

  public RedisSettings {
    requireNonNull(uri, "uri");
    check(uri);
    if (waitReplicas < 0 || waitReplicas > MAX_WAIT_REPLICAS) {
      throw new IllegalArgumentException(
          "waitReplicas is " + waitReplicas + "; it must be 0 to " + MAX_WAIT_REPLICAS);
    }
  }

  /** A master whose acknowledgement suffices. */
  public RedisSettings(String uri) {
    this(uri, 0);
  }

  /** Checks the form of a URI; the Redis client parses the rest. */
  static void check(String uri) {
    int schemeEnd = uri.indexOf("://");
    String scheme = schemeEnd < 0 ? "" : uri.substring(0, schemeEnd);
    if (!SCHEMES.contains(scheme)) {
      throw new IllegalArgumentException(
          "'"
              + redact(uri)
              + "' is not a Redis URI: it starts with redis://, rediss:// or redis-sentinel://"
              + " (e.g. redis://127.0.0.1:6379)");
    }
    if (scheme.equals("redis-sentinel")) {
      int hash = uri.indexOf('#');
      if (hash < 0 || hash == uri.length() - 1) {
        throw new IllegalArgumentException(
            "'"
                + redact(uri)
                + "' does not name the Sentinel master after '#' (e.g."
                + " redis-sentinel://127.0.0.1:26379#mymaster)");
      }
      return;
    }
    try {
      URI parsed = new URI(uri);
      if (parsed.getHost() == null) {
        throw new IllegalArgumentException(
            "'" + redact(uri) + "' names no host (e.g. redis://127.0.0.1:6379)");
      }
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "'" + redact(uri) + "' is not a valid URI: " + e.getReason());
    }
  }

  public String redactedUri() {
    return redact(uri);
  }

  /** Replaces the password part of a URI's user info with {@code ****}. */
  public static String redact(String uri) {
    Matcher matcher = USER_INFO.matcher(uri);
    if (!matcher.find()) {
      return uri;
    }
    String userInfo = matcher.group(2);
    int colon = userInfo.indexOf(':');
    String redacted = colon < 0 ? "****" : userInfo.substring(0, colon) + ":****";
    return matcher.group(1) + redacted + "@" + uri.substring(matcher.end());
  }

  @Override
  public String toString() {
    return "RedisSettings[uri=" + redactedUri() + ", waitReplicas=" + waitReplicas + "]";
  }
}
