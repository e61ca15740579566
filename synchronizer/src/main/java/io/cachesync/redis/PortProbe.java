package io.cachesync.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Looks at a Redis port from outside the Redis client, to tell why a connection failed: whether it
 * speaks TLS and with which certificate, or answers in plain text. Neither look sends a password or
 * any data of the cache: the TLS look ends with the handshake, the plain-text one sends {@code
 * PING}.
 */
final class PortProbe {
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  private PortProbe() {}

  /**
   * The certificates a TLS server at {@code host:port} presents, or empty when nothing there
   * completes the first steps of a TLS handshake. They are only looked at (no certificate is
   * trusted by this), so that a message can name what the server presents.
   */
  static Optional<List<X509Certificate>> tlsCertificates(String host, int port) {
    List<X509Certificate> presented = new ArrayList<>();
    X509TrustManager looker =
        new X509TrustManager() {
          @Override
          public void checkClientTrusted(X509Certificate[] chain, String authType) {
            throw new UnsupportedOperationException("a client's look at a server");
          }

          @Override
          public void checkServerTrusted(X509Certificate[] chain, String authType) {
            presented.addAll(List.of(chain));
          }

          @Override
          public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
          }
        };
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {looker}, null);
      try (Socket plain = connect(host, port);
          SSLSocket socket =
              (SSLSocket) context.getSocketFactory().createSocket(plain, host, port, true)) {
        socket.startHandshake();
      }
    } catch (IOException e) {
      // Refused, reset, not TLS, or a client certificate the server wanted: what was presented
      // before that is what counts.
    } catch (GeneralSecurityException e) {
      return Optional.empty();
    }
    return presented.isEmpty() ? Optional.empty() : Optional.of(List.copyOf(presented));
  }

  /**
   * Whether a Redis server at {@code host:port} answers {@code PING} in plain text: {@code +PONG},
   * or an error such as {@code -NOAUTH} that only Redis gives.
   */
  static boolean answersPlainText(String host, int port) {
    try (Socket socket = connect(host, port)) {
      OutputStream out = socket.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      byte[] reply = in.readNBytes(5);
      String text = new String(reply, StandardCharsets.US_ASCII);
      return text.equals("+PONG") || text.startsWith("-NOAU") || text.startsWith("-ERR ");
    } catch (IOException e) {
      return false;
    }
  }

  private static Socket connect(String host, int port) throws IOException {
    Socket socket = new Socket();
    try {
      socket.connect(new InetSocketAddress(host, port), (int) TIMEOUT.toMillis());
      socket.setSoTimeout((int) TIMEOUT.toMillis());
      return socket;
    } catch (IOException e) {
      socket.close();
      throw e;
    }
  }
}
