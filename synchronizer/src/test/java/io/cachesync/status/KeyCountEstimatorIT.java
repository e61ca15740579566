package io.cachesync.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.RedisSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.status.StatusFacts.Estimate;
import io.cachesync.status.StatusFacts.TableKeys;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Key counts per table: exact by SCAN on a small database, sampled by RANDOMKEY on a big one. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KeyCountEstimatorIT {
  private RedisServer server;
  private LettuceCacheInspector inspector;
  private List<TableMapping> tables;

  @BeforeAll
  void setUp() throws Exception {
    server = TestServers.redis();
    try (RedisProbe probe = new RedisProbe(server)) {
      Map<String, String> keys = new HashMap<>();
      for (int i = 1; i <= 3_000; i++) {
        keys.put("user:" + i, "x");
      }
      for (int i = 1; i <= 1_000; i++) {
        keys.put("order:" + i + ":" + i, "x");
        keys.put("unmapped:" + i, "x");
      }
      // Under the prefixes but no key of theirs: an empty id, a missing part.
      keys.put("user:", "x");
      keys.put("order:7", "x");
      probe.redis().mset(keys);
    }
    inspector = LettuceCacheInspector.connect(new RedisSettings(server.uri()));
    tables =
        List.of(table("public.users", "user:{id}"), table("public.orders", "order:{tenant}:{id}"));
  }

  private static TableMapping table(String name, String key) {
    return new TableMapping(
        TableId.parse(name),
        KeyTemplate.parse(key),
        TableMapping.DEFAULT_FORMAT,
        TableMapping.DEFAULT_MODE,
        List.of(),
        java.util.Optional.empty());
  }

  @AfterAll
  void tearDown() {
    if (inspector != null) {
      inspector.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @Test
  void count_smallDatabase_countsEachTablesKeysExactly() {
    List<TableKeys> counted = new KeyCountEstimator(inspector).count(tables, inspector.keyCount());

    assertThat(counted)
        .containsExactly(
            new TableKeys("public.users", "user:{id}", 3_000, Estimate.EXACT, 0),
            new TableKeys("public.orders", "order:{tenant}:{id}", 1_000, Estimate.EXACT, 0));
  }

  @Test
  void count_databaseAboveTheExactLimit_estimatesFromRandomKeys() {
    long keys = inspector.keyCount();

    List<TableKeys> estimated = new KeyCountEstimator(inspector, 100).count(tables, keys);

    assertThat(keys).isEqualTo(5_002);
    assertThat(estimated).extracting(TableKeys::estimate).containsOnly(Estimate.SAMPLED);
    assertThat(estimated).extracting(TableKeys::sampled).containsOnly(KeyCountEstimator.SAMPLE);
    // 2,000 draws: the standard deviation is about 1.1 % of DBSIZE (55 keys); 5 of them allowed.
    assertThat(estimated.get(0).keys()).isBetween(3_000L - 275, 3_000L + 275);
    assertThat(estimated.get(1).keys()).isBetween(1_000L - 275, 1_000L + 275);
  }
}
