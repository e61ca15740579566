package io.cachesync.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * The smallest Redis client the fixtures need: one command, one reply line. Fixtures use it so that
 * the servers' readiness does not depend on the client library under test.
 */
final class Resp {
  private Resp() {}

  static String command(String host, int port, String... arguments) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), 1_000);
      return exchange(socket, arguments);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** As {@link #command(String, int, String...)}, over TLS with sockets from {@code tls}. */
  static String command(SSLSocketFactory tls, String host, int port, String... arguments) {
    try (Socket plain = new Socket()) {
      plain.connect(new InetSocketAddress(host, port), 1_000);
      try (SSLSocket socket = (SSLSocket) tls.createSocket(plain, host, port, true)) {
        socket.setSoTimeout(5_000);
        socket.startHandshake();
        return exchange(socket, arguments);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String exchange(Socket socket, String... arguments) throws IOException {
    socket.setSoTimeout(5_000);
    StringBuilder request = new StringBuilder("*" + arguments.length + "\r\n");
    for (String argument : arguments) {
      request
          .append('$')
          .append(argument.getBytes(StandardCharsets.UTF_8).length)
          .append("\r\n")
          .append(argument)
          .append("\r\n");
    }
    OutputStream out = socket.getOutputStream();
    out.write(request.toString().getBytes(StandardCharsets.UTF_8));
    out.flush();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    String line = in.readLine();
    if (line != null && line.startsWith("$") && !line.equals("$-1")) {
      return in.readLine();
    }
    return line;
  }
}
