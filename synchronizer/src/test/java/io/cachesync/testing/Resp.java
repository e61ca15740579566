package io.cachesync.testing;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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

  /** One command as Redis reads it: an array of bulk strings. */
  static String encode(String... arguments) {
    StringBuilder request = new StringBuilder("*" + arguments.length + "\r\n");
    for (String argument : arguments) {
      request
          .append('$')
          .append(argument.getBytes(StandardCharsets.UTF_8).length)
          .append("\r\n")
          .append(argument)
          .append("\r\n");
    }
    return request.toString();
  }

  /**
   * Reads one whole reply (RESP2): a status or an error as its text ({@code -} first for an error),
   * an integer as a Long, a bulk string as its bytes, an array as a list, a null as null.
   */
  static Object reply(InputStream in) throws IOException {
    String line = line(in);
    if (line.isEmpty()) {
      throw new IOException("an empty reply line");
    }
    char kind = line.charAt(0);
    String rest = line.substring(1);
    try {
      return reply(in, line, kind, rest);
    } catch (NumberFormatException e) {
      throw new IOException("not a RESP reply: " + line, e);
    }
  }

  private static Object reply(InputStream in, String line, char kind, String rest)
      throws IOException {
    switch (kind) {
      case '+':
        return rest;
      case '-':
        return line;
      case ':':
        return Long.parseLong(rest);
      case '$':
        {
          int length = Integer.parseInt(rest);
          if (length < 0) {
            return null;
          }
          byte[] bytes = in.readNBytes(length);
          if (bytes.length < length || in.read() != '\r' || in.read() != '\n') {
            throw new EOFException("a bulk string cut short");
          }
          return bytes;
        }
      case '*':
        {
          int count = Integer.parseInt(rest);
          if (count < 0) {
            return null;
          }
          List<Object> values = new ArrayList<>(count);
          for (int i = 0; i < count; i++) {
            values.add(reply(in));
          }
          return values;
        }
      default:
        throw new IOException("not a RESP reply: " + line);
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = in.read()) != '\r') {
      if (c < 0) {
        throw new EOFException("the connection ended");
      }
      line.append((char) c);
    }
    if (in.read() != '\n') {
      throw new IOException("a reply line without its newline");
    }
    return line.toString();
  }

  /**
   * Bytes as MONITOR prints an argument (Redis's sdscatrepr, without the quotes): printable ASCII
   * as is, a backslash and a quote escaped, \n \r \t \a \b, and any other byte as \xhh.
   */
  static String repr(byte[] bytes) {
    StringBuilder text = new StringBuilder(bytes.length);
    for (byte b : bytes) {
      int c = b & 0xff;
      switch (c) {
        case '\\' -> text.append("\\\\");
        case '"' -> text.append("\\\"");
        case '\n' -> text.append("\\n");
        case '\r' -> text.append("\\r");
        case '\t' -> text.append("\\t");
        case 7 -> text.append("\\a");
        case '\b' -> text.append("\\b");
        default -> {
          if (c >= 0x20 && c <= 0x7e) {
            text.append((char) c);
          } else {
            text.append(String.format("\\x%02x", c));
          }
        }
      }
    }
    return text.toString();
  }

  private static String exchange(Socket socket, String... arguments) throws IOException {
    socket.setSoTimeout(5_000);
    OutputStream out = socket.getOutputStream();
    out.write(encode(arguments).getBytes(StandardCharsets.UTF_8));
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
