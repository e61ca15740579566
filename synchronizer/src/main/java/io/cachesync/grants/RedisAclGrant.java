package io.cachesync.grants;

import static java.util.Objects.requireNonNull;

import io.cachesync.config.Configuration;
import io.cachesync.redis.RedisRights;
import io.cachesync.redis.RedisRights.KeyPattern;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The one {@code ACL SETUSER} command an administrator runs with {@code redis-cli} so that the user
 * of {@code redis.uri} may do what cachesync does ({@link RedisRights}). It only adds rights: no
 * {@code reset}, {@code resetkeys}, {@code on}, password or {@code nopass}, so the user's other
 * rights and its passwords stay as they are.
 *
 * @param arguments the command's words, unquoted
 * @param warnings what an administrator should know before running it
 */
public record RedisAclGrant(List<String> arguments, List<String> warnings) {
  private static final String DEFAULT_USER = "default";

  /**
   * Redis keeps ACL users per node, and a cluster does not pass them on: a node without the user
   * refuses cachesync, and a replica without it does so once a failover makes it the master.
   */
  private static final String CLUSTER_WARNING =
      "redis.uri names a Redis Cluster: run this line on every node of the cluster, masters and"
          + " replicas alike (each node keeps its own ACL users, and a replica becomes a master at"
          + " a failover), and on every node added later";

  public RedisAclGrant {
    arguments = List.copyOf(arguments);
    warnings = List.copyOf(warnings);
  }

  public static RedisAclGrant of(Configuration configuration) {
    RedisAclGrant grant = of(RedisRights.of(configuration));
    if (configuration.settings().redis().uri().contains("-sentinel://")) {
      List<String> warnings = new ArrayList<>(grant.warnings());
      warnings.add(
          "redis.uri names Sentinel: this line is for the Redis master and its replicas (run it on"
              + " each); the Sentinels' own users are not covered");
      return new RedisAclGrant(grant.arguments(), warnings);
    }
    if (configuration.settings().redis().cluster()) {
      List<String> warnings = new ArrayList<>(grant.warnings());
      warnings.add(CLUSTER_WARNING);
      return new RedisAclGrant(grant.arguments(), warnings);
    }
    return grant;
  }

  public static RedisAclGrant of(RedisRights rights) {
    requireNonNull(rights, "rights");
    List<String> arguments = new ArrayList<>(List.of("ACL", "SETUSER", rights.user()));
    rights.commands().forEach(command -> arguments.add("+" + command.name()));
    List<String> warnings = new ArrayList<>();
    if (rights.user().equals(DEFAULT_USER)) {
      // Redis refuses a key or channel pattern added to a user that has every key or channel
      // ("Adding a pattern after the * pattern ... is not valid"), and the default user has both:
      // the whole line would fail and grant nothing.
      warnings.add(
          "redis.uri names no user, so the line is for user default, which already reads and"
              + " writes every key and channel (~* &*): it adds commands only. To confine"
              + " cachesync to its keys, create a user for it (ACL SETUSER cachesync on >PASSWORD)"
              + " and name it in redis.uri (redis://cachesync@host:port)");
      return new RedisAclGrant(arguments, warnings);
    }
    for (KeyPattern pattern : rights.keyPatterns()) {
      arguments.add("~" + pattern.pattern());
      if (!pattern.broad() && pattern.sample().chars().anyMatch(Character::isWhitespace)) {
        warnings.add(
            "the key prefix of "
                + pattern.owner()
                + " holds white space, which Redis refuses in an ACL pattern: each is matched by"
                + " '?' instead (~"
                + pattern.pattern()
                + "), which also lets the user at keys with another character there");
      }
      if (pattern.broad()) {
        warnings.add(
            "the key template of "
                + pattern.owner()
                + " starts with a placeholder, so its keys have no common prefix: the line lets"
                + " user "
                + rights.user()
                + " read and write every key (~"
                + pattern.pattern()
                + ")");
      }
    }
    rights.channels().forEach(channel -> arguments.add("&" + channel));
    return new RedisAclGrant(arguments, warnings);
  }

  /** The command as one line that {@code redis-cli} reads as these words. */
  public String line() {
    return arguments.stream().map(RedisAclGrant::word).collect(Collectors.joining(" "));
  }

  /**
   * One word as {@code redis-cli} splits its input: as is when it holds only printable ASCII other
   * than quotes and backslash, otherwise in double quotes, with {@code \"}, {@code \\} and every
   * other byte outside printable ASCII as {@code \xHH} (so a name in UTF-8 survives any terminal).
   */
  static String word(String text) {
    boolean plain =
        !text.isEmpty()
            && text.chars()
                .allMatch(c -> c > 0x20 && c < 0x7f && c != '"' && c != '\'' && c != '\\');
    if (plain) {
      return text;
    }
    StringBuilder quoted = new StringBuilder("\"");
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c == '"' || c == '\\') {
        quoted.append('\\').append((char) c);
      } else if (c >= 0x20 && c < 0x7f) {
        quoted.append((char) c);
      } else {
        quoted.append(String.format("\\x%02x", c));
      }
    }
    return quoted.append('"').toString();
  }
}
