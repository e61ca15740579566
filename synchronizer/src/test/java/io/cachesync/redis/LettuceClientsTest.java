package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.config.RedisSettings;
import io.cachesync.config.RedisTlsSettings;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslVerifyMode;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The clients' own resources (for their reconnect delay) go when the client is shut down; the TLS
 * settings reach every client and every URI, Sentinel's included.
 */
class LettuceClientsTest {
  private static final RedisTlsSettings CA_ONLY =
      new RedisTlsSettings(
          Optional.empty(), Optional.empty(), Optional.empty(), RedisTlsSettings.Verify.CA);

  @Test
  void uri_tlsSentinel_verifiesSentinelsAndMasterAsConfigured() {
    RedisURI uri =
        LettuceClients.uri(
            new RedisSettings("rediss-sentinel://s1:26379,s2:26379#cache", 0, CA_ONLY));

    assertThat(uri.isSsl()).isTrue();
    assertThat(uri.getVerifyMode()).isEqualTo(SslVerifyMode.CA);
    assertThat(uri.getSentinels())
        .hasSize(2)
        .allSatisfy(
            sentinel -> {
              assertThat(sentinel.isSsl()).isTrue();
              assertThat(sentinel.getVerifyMode()).isEqualTo(SslVerifyMode.CA);
            });
  }

  @Test
  void uri_rediss_checksTheHostNameByDefault() {
    RedisURI uri = LettuceClients.uri(new RedisSettings("rediss://cache.internal:6380"));

    assertThat(uri.isSsl()).isTrue();
    assertThat(uri.getVerifyMode()).isEqualTo(SslVerifyMode.FULL);
    assertThat(LettuceClients.uri(new RedisSettings("redis://cache.internal:6379")).isSsl())
        .isFalse();
  }

  @Test
  void clients_tls_everyKindCarriesTheSslOptions() {
    RedisSettings settings = new RedisSettings("rediss://127.0.0.1:1", 0, CA_ONLY);
    for (RedisClient client :
        List.of(
            LettuceClients.oneShot(settings),
            LettuceClients.reconnecting(settings),
            LettuceClients.nonReconnecting(settings, "writer"))) {
      try {
        assertThat(client.getOptions().getSslOptions().getHandshakeTimeout())
            .isEqualTo(LettuceClients.CONNECT_TIMEOUT);
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void shutdown_reconnectingClient_shutsItsResourcesDown() {
    RedisClient client = LettuceClients.reconnecting(new RedisSettings("redis://127.0.0.1:1"));

    client.shutdown();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> client.getResources().eventExecutorGroup().isShuttingDown());
  }

  @Test
  void reconnectDelay_isCappedAtTheMaximum() {
    RedisClient client = LettuceClients.oneShot(new RedisSettings("redis://127.0.0.1:1"));
    try {
      var delay = client.getResources().reconnectDelay();
      assertThat(delay.createDelay(30)).isEqualTo(LettuceClients.MAX_RECONNECT_DELAY);
    } finally {
      client.shutdown();
    }
  }
}
