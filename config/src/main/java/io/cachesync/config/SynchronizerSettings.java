package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * The contents of {@code synchronizer.yml}.
 *
 * @param name the synchronizer's identity; its replication slot, publication and Redis state keys
 *     are named from it
 * @param mapping the mapping file, resolved against the directory of {@code synchronizer.yml}
 * @param http the daemon's metrics and health endpoint
 */
public record SynchronizerSettings(
    String name, PostgresSettings postgres, RedisSettings redis, Path mapping, HttpSettings http) {

  public static final String DEFAULT_MAPPING = "mapping.yml";

  /** PostgreSQL slot names are at most 63 characters; {@code cachesync_} takes 10 of them. */
  static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,47}");

  public SynchronizerSettings {
    requireNonNull(name, "name");
    requireNonNull(postgres, "postgres");
    requireNonNull(redis, "redis");
    requireNonNull(mapping, "mapping");
    requireNonNull(http, "http");
    checkName(name);
  }

  /** Settings with the default HTTP endpoint. */
  public SynchronizerSettings(
      String name, PostgresSettings postgres, RedisSettings redis, Path mapping) {
    this(name, postgres, redis, mapping, HttpSettings.DEFAULT);
  }

  static String checkName(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "'"
              + name
              + "' is not a valid name: use 1 to 48 lowercase letters, digits and _, starting with a"
              + " letter (it names the replication slot and the publication)");
    }
    return name;
  }

  /** The logical replication slot this synchronizer owns. */
  public String slotName() {
    return "cachesync_" + name;
  }

  /** The publication of the mapped tables. */
  public String publicationName() {
    return "cachesync_" + name;
  }

  /**
   * The prefix of this synchronizer's own keys in Redis: {@code cachesync:<name>:}; on a Redis
   * Cluster {@code {cachesync:<name>}:}, a hash tag that puts every one of them in one slot, so
   * that the scripts and transactions that touch several of them run on one master.
   */
  public String stateKeyPrefix() {
    return redis.cluster() ? "{cachesync:" + name + "}:" : "cachesync:" + name + ":";
  }

  /**
   * On a Redis Cluster, what each shard's key starts with: {@code cachesync:<name>:shard:}, then a
   * hash tag that puts the key on its shard's master (see the cluster writer).
   */
  public String shardKeyPrefix() {
    return "cachesync:" + name + ":shard:";
  }
}
