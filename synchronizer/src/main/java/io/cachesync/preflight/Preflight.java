package io.cachesync.preflight;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.redis.RedisRights;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the live servers before the synchronizer relies on them, so that a bad setup fails at
 * start with the fix rather than later with lost or stale data.
 */
public final class Preflight {
  private Preflight() {}

  /**
   * Runs every check against PostgreSQL, then Redis.
   *
   * @throws ServerUnreachableException when either server cannot be reached at all
   */
  public static PreflightReport run(Configuration configuration) throws ServerUnreachableException {
    List<Finding> findings = new ArrayList<>(new PostgresPreflight(configuration).run());
    SynchronizerSettings settings = configuration.settings();
    findings.addAll(
        new RedisPreflight(
                settings, RedisRights.of(configuration), configuration.mapping().tables())
            .run());
    return new PreflightReport(findings);
  }
}
