package io.cachesync.testing;

import java.io.ByteArrayOutputStream;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

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

  /** Bytes that, once a client sends them, set off {@link #action}. */
  private volatile byte[] trigger;

  private volatile Action action;

  /** What a client's bytes set off (see {@link #trigger}). */
  private enum Action {
    SWALLOW_REPLIES,
    CUT,
    DELAY
  }

  /** The server end of a connection whose client bytes are held back (see {@link #delayFrom}). */
  private volatile Socket delayedServer;

  private final ByteArrayOutputStream delayed = new ByteArrayOutputStream();
  private final CountDownLatch delayedAnswered = new CountDownLatch(1);
  private final CountDownLatch delayedClosed = new CountDownLatch(1);
  private static final byte[] DELAYED_MARKER = "delayed-bytes-ran".getBytes(StandardCharsets.UTF_8);

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
    arm(text, Action.SWALLOW_REPLIES);
  }

  /**
   * Once a client sends {@code text}, drops the data that carries it and {@link #cut()}s: the
   * server never sees the command, as when the server dies just before it arrives.
   */
  public void cutBefore(String text) {
    arm(text, Action.CUT);
  }

  /**
   * Once a client sends {@code text}, holds back the data that carries it and everything that
   * client sends after, and closes the client's end only: the client sees its connection drop,
   * while the server's end stays open, as when a broken network delivers a closed connection's last
   * bytes late. {@link #deliverDelayed()} sends them on. One connection at a time.
   */
  public void delayFrom(String text) {
    arm(text, Action.DELAY);
  }

  /**
   * Sends the held-back bytes to the server on the connection they were meant for, followed by an
   * {@code ECHO}, and waits for the server to answer it.
   *
   * @return true when the server ran them (it answered the {@code ECHO}), false when it had closed
   *     the connection first
   */
  public boolean deliverDelayed() throws IOException, InterruptedException {
    Socket server = delayedServer;
    if (server == null) {
      throw new IllegalStateException("no bytes were held back");
    }
    byte[] echo =
        ("*2\r\n$4\r\nECHO\r\n$" + DELAYED_MARKER.length + "\r\n").getBytes(StandardCharsets.UTF_8);
    try {
      OutputStream out = server.getOutputStream();
      synchronized (delayed) {
        out.write(delayed.toByteArray());
      }
      out.write(echo);
      out.write(DELAYED_MARKER);
      out.write("\r\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException e) {
      return false; // the server closed the connection
    }
    for (int waited = 0; waited < 100; waited++) {
      if (delayedAnswered.await(50, TimeUnit.MILLISECONDS)) {
        return true;
      }
      if (delayedClosed.getCount() == 0) {
        return false;
      }
    }
    throw new IllegalStateException("the server neither answered nor closed within 5 s");
  }

  private void arm(String text, Action what) {
    action = what;
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
              try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                // The end of the previous read, so that a trigger split across two reads is found.
                byte[] tail = new byte[0];
                int read;
                while ((read = in.read(buffer)) >= 0) {
                  if (replies && from == delayedServer) {
                    // The client is gone: watch for the answer to deliverDelayed's ECHO.
                    if (indexOf(Arrays.copyOf(buffer, read), DELAYED_MARKER) >= 0) {
                      delayedAnswered.countDown();
                    }
                    continue;
                  }
                  if (!replies && to == delayedServer) {
                    synchronized (delayed) {
                      delayed.write(buffer, 0, read);
                    }
                    continue;
                  }
                  byte[] wanted = trigger;
                  if (!replies && wanted != null) {
                    byte[] seen = new byte[tail.length + read];
                    System.arraycopy(tail, 0, seen, 0, tail.length);
                    System.arraycopy(buffer, 0, seen, tail.length, read);
                    if (indexOf(seen, wanted) >= 0) {
                      trigger = null;
                      if (action == Action.CUT) {
                        cut();
                        break;
                      }
                      if (action == Action.DELAY) {
                        synchronized (delayed) {
                          delayed.write(buffer, 0, read);
                        }
                        delayedServer = to;
                        open.remove(to);
                        closeQuietly(from);
                        break;
                      }
                      swallowing = true;
                    }
                    tail =
                        Arrays.copyOfRange(
                            seen, Math.max(0, seen.length - wanted.length), seen.length);
                  }
                  if (!(replies && swallowing)) {
                    try {
                      out.write(buffer, 0, read);
                    } catch (IOException e) {
                      if (replies && from == delayedServer) {
                        continue; // the client end was closed by delayFrom: keep watching
                      }
                      throw e;
                    }
                  }
                }
              } catch (IOException e) {
                // The connection was cut or closed: close both ends below.
              } finally {
                if (from == delayedServer) {
                  delayedClosed.countDown();
                }
                // The server end of a delayed connection stays open for deliverDelayed.
                if (from != delayedServer) {
                  closeQuietly(from);
                }
                if (to != delayedServer) {
                  closeQuietly(to);
                }
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
    if (delayedServer != null) {
      closeQuietly(delayedServer);
    }
    try {
      listener.close();
    } catch (IOException e) {
      // Already closed.
    }
  }
}
