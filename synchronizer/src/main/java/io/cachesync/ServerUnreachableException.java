package io.cachesync;

/**
 * A server that could not be reached at all: nothing about the setup could be checked. The message
 * names the server, its address and the cause, never a password.
 */
public final class ServerUnreachableException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String server;
  private final boolean tlsFailed;

  public ServerUnreachableException(String server, String address, String cause) {
    this(server, server + " at " + address + " cannot be reached: " + cause, false);
  }

  private ServerUnreachableException(String server, String message, boolean tlsFailed) {
    super(message);
    this.server = server;
    this.tlsFailed = tlsFailed;
  }

  /**
   * The server answered, but no TLS connection could be made with it, for a reason that waiting
   * does not mend: a certificate one side refused, or a TLS file that cannot be used.
   *
   * @param cause one line that names the setting to check
   */
  public static ServerUnreachableException tlsFailed(String server, String address, String cause) {
    return new ServerUnreachableException(
        server, "TLS with " + server + " at " + address + " failed: " + cause, true);
  }

  /**
   * As {@link #tlsFailed(String, String, String)}, told by {@code line}, which names the server,
   * its address, the cause and the setting to check.
   */
  public static ServerUnreachableException tlsRefused(String server, String line) {
    return new ServerUnreachableException(server, line, true);
  }

  /** Which server: {@code Redis} or {@code PostgreSQL}. */
  public String server() {
    return server;
  }

  /** Whether TLS failed ({@link #tlsFailed(String, String, String)}) rather than the network. */
  public boolean tlsFailed() {
    return tlsFailed;
  }
}
