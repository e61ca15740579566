package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.TableId;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.sync.RedisUnavailableException;
import io.cachesync.testing.CacheWriterFixture;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.TcpProxy;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A batch whose connection dropped on the writer's side, but whose bytes reach Redis late on the
 * old connection (a broken network delivers them after the retry): without the writer closing its
 * earlier connections first, the late batch would write a key back after a later batch deleted it.
 * No version guard can tell, since the deleted key holds no version.
 */
class LateDeliveryIT {
  private static final TableId ITEMS = TableId.parse("public.items");
  private static final Version WRITTEN = new Version(0x100, 0x10);
  private static final Version DELETED = new Version(0x200, 0x20);

  private CacheWriterFixture fixture;
  private RedisProbe redis;
  private TcpProxy proxy;
  private LettuceCacheWriter writer;

  @BeforeEach
  void setUp() throws Exception {
    fixture = CacheWriterFixture.throughProxy("cachesync:late:");
    redis = fixture.redis;
    proxy = fixture.proxy;
    writer = fixture.writer;
  }

  @AfterEach
  void tearDown() {
    fixture.close();
  }

  @Test
  void batchDeliveredLateOnADroppedConnection_neverRunsAfterTheRetry() throws Exception {
    List<CacheOperation> batch = List.of(item(WRITTEN));
    proxy.delayFrom("item:1");

    catchThrowableOfType(
        RedisUnavailableException.class, () -> writer.apply(batch, WRITTEN, Version.ZERO));
    // Applied again on a new connection.
    fixture.afterReconnecting(() -> writer.apply(batch, WRITTEN, Version.ZERO));
    writer.apply(List.of(new Evict(ITEMS, "item:1", DELETED)), DELETED, WRITTEN);
    assertThat(redis.redis().exists("item:1")).isZero();

    assertThat(proxy.deliverDelayed())
        .as("Redis ran the dropped connection's late bytes")
        .isFalse();
    assertThat(redis.redis().exists("item:1")).as("the deleted row written back").isZero();
  }

  private static Write item(Version version) {
    return new Write(
        ITEMS,
        "item:1",
        ValueFormat.HASH,
        Map.of("id", new ColumnValue.Number("1")),
        version,
        Optional.empty());
  }
}
