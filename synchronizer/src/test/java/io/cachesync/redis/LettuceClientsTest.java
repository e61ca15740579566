package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.config.RedisSettings;
import io.lettuce.core.RedisClient;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The clients' own resources (for their reconnect delay) go when the client is shut down. */
class LettuceClientsTest {
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
