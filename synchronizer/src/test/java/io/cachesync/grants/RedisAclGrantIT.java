package io.cachesync.grants;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.PostgresSettings;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.RedisRights;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Redis itself accepts the printed {@code ACL SETUSER} line, for the users it refuses key patterns
 * for (the default user, which has every key and channel) and for prefixes it refuses in a pattern
 * (white space).
 */
class RedisAclGrantIT {
  private static RedisServer redis;

  @BeforeAll
  static void start() {
    redis = TestServers.redis();
  }

  @AfterAll
  static void stop() {
    redis.close();
  }

  private static RedisAclGrant grant(String uri, String key) {
    SynchronizerSettings settings =
        new SynchronizerSettings(
            "shop",
            new PostgresSettings("127.0.0.1", 5432, "shop", "cachesync", Optional.empty()),
            new RedisSettings(uri),
            Path.of("mapping.yml"));
    TableMapping table =
        new TableMapping(
            TableId.parse("public.users"),
            KeyTemplate.parse(key),
            TableMapping.DEFAULT_FORMAT,
            TableMapping.DEFAULT_MODE,
            List.of(),
            Optional.empty());
    return RedisAclGrant.of(RedisRights.of(settings, List.of(table)));
  }

  @Test
  void defaultUser_theLineIsAccepted() {
    RedisAclGrant grant = grant("redis://127.0.0.1:" + redis.port(), "user:{id}");

    assertThat(redis.command(grant.arguments().toArray(String[]::new))).startsWith("+OK");
  }

  @Test
  void newUser_theLineIsAcceptedAndConfinesItToThePrefixes() {
    assertThat(redis.command("ACL", "SETUSER", "cs_new", "on", ">pw")).startsWith("+OK");
    RedisAclGrant grant = grant("redis://cs_new:pw@127.0.0.1:" + redis.port(), "user profile:{id}");

    assertThat(redis.command(grant.arguments().toArray(String[]::new))).startsWith("+OK");
    assertThat(redis.command("ACL", "DRYRUN", "cs_new", "HSET", "user profile:1", "a", "b"))
        .startsWith("+OK");
    assertThat(redis.command("ACL", "DRYRUN", "cs_new", "HSET", "order:1", "a", "b"))
        .doesNotStartWith("+OK");
  }
}
