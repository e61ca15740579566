package io.cachesync.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.HttpSettings;
import io.cachesync.metrics.Phase;
import io.cachesync.metrics.SyncMetrics;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The endpoint's routes and its behaviour with clients that misbehave; no servers needed. */
class HttpEndpointTest {
  private final HttpClient client =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private SyncMetrics metrics;
  private HttpEndpoint endpoint;

  @BeforeEach
  void setUp() throws Exception {
    HttpSettings settings =
        new HttpSettings(true, "127.0.0.1", 0, Duration.ofSeconds(30), Duration.ofSeconds(120));
    metrics = new SyncMetrics("shop", List.of(), settings, Clock.systemUTC());
    endpoint = HttpEndpoint.start(settings, metrics);
  }

  @AfterEach
  void tearDown() {
    endpoint.close();
    metrics.close();
  }

  private HttpResponse<String> send(String method, String path) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + endpoint.port() + path))
            .timeout(Duration.ofSeconds(3))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build();
    return client.send(request, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void routes_eachPath_answersWhatTheReadmeSays() throws Exception {
    metrics.phase(Phase.LOADING);

    assertThat(send("GET", "/metrics").body()).contains("# HELP cachesync_state ");
    HttpResponse<String> ready = send("GET", "/health/ready");
    assertThat(ready.statusCode()).isEqualTo(503);
    assertThat(ready.body())
        .isEqualTo(
            "{\"status\":\"DOWN\",\"state\":\"loading\",\"lagSeconds\":0.0,\"reason\":\"loading\"}");
    assertThat(send("GET", "/health/live").statusCode()).isEqualTo(200);
    assertThat(send("GET", "/metrics/extra").statusCode()).isEqualTo(404);
    assertThat(send("GET", "/").statusCode()).isEqualTo(404);
    assertThat(send("POST", "/metrics").statusCode()).isEqualTo(405);
  }

  @Test
  void health_whileClientsHoldHalfSentRequests_stillAnswers() throws Exception {
    List<Socket> silent = new ArrayList<>();
    try {
      // More silent clients than one thread: each sends a request line and never ends it.
      for (int i = 0; i < 3; i++) {
        Socket socket = new Socket("127.0.0.1", endpoint.port());
        OutputStream out = socket.getOutputStream();
        out.write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        silent.add(socket);
      }
      assertThat(send("GET", "/health/live").statusCode()).isEqualTo(200);
    } finally {
      for (Socket socket : silent) {
        socket.close();
      }
    }
  }
}
