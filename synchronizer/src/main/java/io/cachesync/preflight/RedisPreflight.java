package io.cachesync.preflight;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.RedisAdmin;
import io.cachesync.redis.RedisRefusedException;
import io.cachesync.redis.RedisRights;
import io.cachesync.redis.RedisRights.Command;
import io.cachesync.redis.RedisRights.KeyPattern;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Checks that Redis can hold the cache: it answers, it is the master (writes to a replica fail or
 * are lost), it is recent enough, its eviction policy cannot drop the synchronizer's own state, and
 * the configured user has every right cachesync needs ({@link RedisRights}) and can run the
 * writer's scripts. A Redis Cluster is checked by {@link ClusterPreflight}, each master as one
 * Redis is checked here, with the helpers below.
 */
final class RedisPreflight {
  static final String SUBJECT = "redis";
  private static final int[] MINIMUM_VERSION = {6, 2};

  /** Where every ACL problem's fix points. */
  static final String GRANTS_FIX =
      "the ACL SETUSER line `cachesync grants --redis` prints (every right cachesync needs)";

  private final SynchronizerSettings synchronizer;
  private final RedisSettings settings;
  private final RedisRights rights;
  private final String stateKeyPrefix;
  private final List<TableMapping> tables;

  /**
   * @param tables the mapped tables, whose key templates a Redis Cluster spreads over its masters
   */
  RedisPreflight(SynchronizerSettings settings, RedisRights rights, List<TableMapping> tables) {
    this.synchronizer = settings;
    this.settings = settings.redis();
    this.rights = rights;
    // The synchronizer's own keys, under which the checks write throwaway keys.
    this.stateKeyPrefix = settings.stateKeyPrefix();
    this.tables = List.copyOf(tables);
  }

  List<Finding> run() throws ServerUnreachableException {
    if (settings.cluster()) {
      return new ClusterPreflight(synchronizer, rights, tables).run();
    }
    List<Finding> findings = new ArrayList<>();
    try (RedisAdmin redis = RedisAdmin.connect(settings)) {
      Map<String, String> server = redis.info("server");
      if (settings.usesTls()) {
        findings.add(Finding.ok(SUBJECT, "connected with " + settings.describeTransport()));
      }
      // Without INFO (an ACL refusing it, named below) the version and role cannot be read.
      String version = server.get("redis_version");
      String role = redis.info("replication").get("role");
      String where = "Redis " + version + " at " + settings.redactedUri();
      boolean recent = version == null || atLeast(version, MINIMUM_VERSION);
      boolean master = role == null || role.equals("master");
      if (!recent) {
        findings.add(
            Finding.failed(SUBJECT, where + " is too old; cachesync needs Redis 6.2 or later"));
      } else if (!master) {
        findings.add(
            Finding.failed(
                SUBJECT,
                where
                    + " is a "
                    + role
                    + ", not the master; point redis.uri at the master, or use redis-sentinel:// so"
                    + " writes follow failovers"));
      } else if (version != null && role != null) {
        findings.add(Finding.ok(SUBJECT, where + " is the master"));
      }
      findings.add(evictionPolicy(maxmemoryPolicy(redis)));
      if (recent && master) {
        List<Finding> acl = acl(rights, redis.lacking(rights, stateKeyPrefix), GRANTS_FIX);
        findings.addAll(acl);
        if (acl.stream().anyMatch(Finding::failed)) {
          findings.add(
              Finding.warning(
                  SUBJECT,
                  "the writer's Lua scripts were not tried: the user lacks rights they need"
                      + " (above)"));
        } else {
          findings.addAll(scripts(redis.scriptProblems(stateKeyPrefix)));
        }
      }
    } catch (RedisRefusedException e) {
      // The message names what to check: the user and password, or the TLS settings.
      findings.add(Finding.failed(SUBJECT, e.getMessage()));
    }
    return findings;
  }

  /** The eviction policy, from INFO (which a least-privilege user may run), else CONFIG GET. */
  static Optional<String> maxmemoryPolicy(RedisAdmin redis) {
    String policy = redis.info("memory").get("maxmemory_policy");
    return policy != null ? Optional.of(policy) : redis.configGet("maxmemory-policy");
  }

  /** Why cachesync sends the commands, when they are few enough to say on one line. */
  private static String uses(List<Command> commands) {
    if (commands.size() > 3) {
      return "";
    }
    return " ("
        + commands.stream().map(Command::use).distinct().collect(Collectors.joining("; "))
        + ")";
  }

  /**
   * What the user lacks, each named with its fix.
   *
   * @param grantsFix where the fix of every ACL problem points
   */
  static List<Finding> acl(RedisRights rights, RedisRights.Gaps gaps, String grantsFix) {
    String user = "ACL user " + rights.user();
    List<Finding> findings = new ArrayList<>();
    List<Command> missing =
        gaps.commands().stream().filter(c -> !c.name().equals("publish")).toList();
    if (!missing.isEmpty()) {
      findings.add(
          Finding.failed(
              SUBJECT,
              user
                  + " lacks "
                  + missing.stream().map(Command::display).collect(Collectors.joining(", "))
                  + uses(missing)
                  + "; add "
                  + missing.stream().map(c -> "+" + c.name()).collect(Collectors.joining(" "))
                  + ", or run "
                  + grantsFix));
    }
    for (KeyPattern pattern : gaps.keyPatterns()) {
      findings.add(
          Finding.failed(
              SUBJECT,
              user
                  + " may not write keys matching "
                  + pattern.pattern()
                  + (pattern.owner().equals(RedisRights.STATE)
                      ? " (the synchronizer's own state)"
                      : " (the keys of " + pattern.owner() + ")")
                  + "; add ~"
                  + pattern.pattern()
                  + ", or run "
                  + grantsFix));
    }
    boolean publish = gaps.commands().stream().anyMatch(c -> c.name().equals("publish"));
    if (publish || !gaps.channels().isEmpty()) {
      String channels = String.join(", ", rights.channels());
      findings.add(
          Finding.warning(
              SUBJECT,
              user
                  + (publish ? " lacks PUBLISH" : " may not publish to " + channels)
                  + ", so the read-your-writes bound is not announced on "
                  + channels
                  + " (clients polling the applied field of the position still see it); add "
                  + (publish ? "+publish" : "&" + channels)
                  + ", or run "
                  + grantsFix));
    }
    if (findings.isEmpty()) {
      findings.add(
          Finding.ok(
              SUBJECT,
              user
                  + " may run every command cachesync sends and write the keys of every mapped"
                  + " table and of its state"));
    }
    return findings;
  }

  static List<Finding> scripts(List<String> problems) {
    if (problems.isEmpty()) {
      return List.of(Finding.ok(SUBJECT, "the writer's Lua scripts run as this Redis user"));
    }
    return problems.stream().map(problem -> Finding.failed(SUBJECT, problem)).toList();
  }

  static Finding evictionPolicy(Optional<String> policy) {
    if (policy.isEmpty()) {
      return Finding.warning(
          SUBJECT,
          "could not read maxmemory-policy (neither INFO nor CONFIG GET is allowed); make sure it"
              + " is noeviction or a volatile-* policy, or Redis may evict cachesync's state keys");
    }
    if (policy.get().startsWith("allkeys-")) {
      return Finding.failed(
          SUBJECT,
          "maxmemory-policy is "
              + policy.get()
              + ", so Redis may evict cachesync's state keys (cachesync:*) and lose track of what was"
              + " applied; set maxmemory-policy to noeviction or a volatile-* policy (CONFIG SET"
              + " maxmemory-policy volatile-lru, and in redis.conf)");
    }
    return Finding.ok(
        SUBJECT, "maxmemory-policy " + policy.get() + " never evicts cachesync's state keys");
  }

  static boolean atLeast(String version, int[] minimum) {
    String[] parts = version.split("\\.");
    for (int i = 0; i < minimum.length; i++) {
      int part;
      try {
        part = i < parts.length ? Integer.parseInt(parts[i]) : 0;
      } catch (NumberFormatException e) {
        return false;
      }
      if (part != minimum[i]) {
        return part > minimum[i];
      }
    }
    return true;
  }
}
