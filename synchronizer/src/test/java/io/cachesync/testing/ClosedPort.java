package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * A loopback port nothing listens on, for as long as this is open: a socket bound to it and never
 * listening, so a connection to it is refused, and no other process (a server another test JVM
 * starts on a free port) can take it meanwhile. A port found free and let go, as tests used to take
 * for "nothing listens", could be taken before the test connects to it.
 */
public final class ClosedPort implements AutoCloseable {
  private final Socket socket = new Socket();

  public ClosedPort() {
    try {
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int port() {
    return socket.getLocalPort();
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
