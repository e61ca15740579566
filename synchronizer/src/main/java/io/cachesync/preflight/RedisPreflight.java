package io.cachesync.preflight;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.redis.RedisAdmin;
import io.cachesync.redis.RedisRefusedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Checks that Redis can hold the cache: it answers, it is the master (writes to a replica fail or
 * are lost), it is recent enough, and its eviction policy cannot drop the synchronizer's own state.
 */
final class RedisPreflight {
  private static final String SUBJECT = "redis";
  private static final int[] MINIMUM_VERSION = {6, 2};

  private final RedisSettings settings;

  RedisPreflight(RedisSettings settings) {
    this.settings = settings;
  }

  List<Finding> run() throws ServerUnreachableException {
    List<Finding> findings = new ArrayList<>();
    try (RedisAdmin redis = RedisAdmin.connect(settings)) {
      Map<String, String> server = redis.info("server");
      if (settings.usesTls()) {
        findings.add(Finding.ok(SUBJECT, "connected with " + settings.describeTransport()));
      }
      String version = server.getOrDefault("redis_version", "?");
      String role = redis.info("replication").getOrDefault("role", "?");
      String where = "Redis " + version + " at " + settings.redactedUri();
      if (!atLeast(version, MINIMUM_VERSION)) {
        findings.add(
            Finding.failed(SUBJECT, where + " is too old; cachesync needs Redis 6.2 or later"));
      } else if (!role.equals("master")) {
        findings.add(
            Finding.failed(
                SUBJECT,
                where
                    + " is a "
                    + role
                    + ", not the master; point redis.uri at the master, or use redis-sentinel:// so"
                    + " writes follow failovers"));
      } else {
        findings.add(Finding.ok(SUBJECT, where + " is the master"));
      }
      findings.add(evictionPolicy(redis.configGet("maxmemory-policy")));
      if (role.equals("master")) {
        findings.addAll(scripts(redis.scriptProblems()));
      }
    } catch (RedisRefusedException e) {
      // The message names what to check: the user and password, or the TLS settings.
      findings.add(Finding.failed(SUBJECT, e.getMessage()));
    }
    return findings;
  }

  private static List<Finding> scripts(List<String> problems) {
    if (problems.isEmpty()) {
      return List.of(Finding.ok(SUBJECT, "the writer's Lua scripts run as this Redis user"));
    }
    return problems.stream().map(problem -> Finding.failed(SUBJECT, problem)).toList();
  }

  private static Finding evictionPolicy(Optional<String> policy) {
    if (policy.isEmpty()) {
      return Finding.warning(
          SUBJECT,
          "could not read maxmemory-policy (CONFIG GET is not allowed); make sure it is noeviction"
              + " or a volatile-* policy, or Redis may evict cachesync's state keys");
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
