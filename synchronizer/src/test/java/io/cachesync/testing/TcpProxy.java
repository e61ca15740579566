package io.cachesync.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy in front of a server, for network faults: {@link #cut()} drops every connection
 * through it and refuses new ones until {@link #restore()}, as a broken network would. Written here
 * because a byte pump is a few lines, and a proxy library (toxiproxy) needs its own server process
 * and Docker.
 */
public final class TcpProxy implements AutoCloseable {
  private final String targetHost;
  private final int targetPort;
  private final ServerSocket listener;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean cut;
  private volatile boolean swallowing;

  /**
   * Bytes that, once a client sends them, swallow replies or cut (see {@link
   * #swallowRepliesAfter}).
   */
  private volatile byte[] trigger;

  /** Whether the trigger cuts, instead of swallowing replies. */
  private volatile boolean triggerCuts;

  private volatile boolean closed;

  public TcpProxy(String targetHost, int targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    try {
      this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Thread acceptor = new Thread(this::accept, "proxy-" + targetPort);
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public String host() {
    return "127.0.0.1";
  }

  public int port() {
    return listener.getLocalPort();
  }

  /** Drops every open connection and refuses new ones. */
  public void cut() {
    cut = true;
    swallowing = false;
    trigger = null;
    open.forEach(TcpProxy::closeQuietly);
    open.clear();
  }

  public void restore() {
    cut = false;
  }

  /**
   * Once a client sends {@code text} (a command's argument, say), drops what the server sends from
   * then on while still passing on what clients send: the server runs the command that carried it
   * and every one after, and no reply comes back, as when a connection breaks between a command and
   * its reply. {@link #cut()} ends it. Replies are swallowed before the bytes that carry {@code
   * text} reach the server, so the reply to that very command is among them.
   */
  public void swallowRepliesAfter(String text) {
    triggerCuts = false;
    trigger = text.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Once a client sends {@code text}, drops the data that carries it and {@link #cut()}s: the
   * server never sees the command, as when the server dies just before it arrives.
   */
  public void cutBefore(String text) {
    triggerCuts = true;
    trigger = text.getBytes(StandardCharsets.UTF_8);
  }

  private void accept() {
    while (!closed) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        return;
      }
      if (cut) {
        closeQuietly(client);
        continue;
      }
      try {
        Socket server = new Socket();
        server.connect(new InetSocketAddress(targetHost, targetPort), 2_000);
        open.add(client);
        open.add(server);
        pump(client, server, false);
        pump(server, client, true);
      } catch (IOException e) {
        closeQuietly(client);
      }
    }
  }

  private void pump(Socket from, Socket to, boolean replies) {
    Thread thread =
        new Thread(
            () -> {
              byte[] buffer = new byte[16 * 1024];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                // The end of the previous read, so that a trigger split across two reads is found.
                byte[] tail = new byte[0];
                int read;
                while ((read = in.read(buffer)) >= 0) {
                  byte[] wanted = trigger;
                  if (!replies && wanted != null) {
                    byte[] seen = new byte[tail.length + read];
                    System.arraycopy(tail, 0, seen, 0, tail.length);
                    System.arraycopy(buffer, 0, seen, tail.length, read);
                    if (indexOf(seen, wanted) >= 0) {
                      trigger = null;
                      if (triggerCuts) {
                        cut();
                        break;
                      }
                      swallowing = true;
                    }
                    tail =
                        Arrays.copyOfRange(
                            seen, Math.max(0, seen.length - wanted.length), seen.length);
                  }
                  if (!(replies && swallowing)) {
                    out.write(buffer, 0, read);
                  }
                }
              } catch (IOException e) {
                // The connection was cut or closed: close both ends below.
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
              }
            },
            "proxy-pump");
    thread.setDaemon(true);
    thread.start();
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // Already closed.
    }
  }

  @Override
  public void close() {
    closed = true;
    cut();
    try {
      listener.close();
    } catch (IOException e) {
      // Already closed.
    }
  }
}
