package io.cachesync;

/**
 * A server that could not be reached at all: nothing about the setup could be checked. The message
 * names the server, its address and the cause, never a password.
 */
public final class ServerUnreachableException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String server;

  public ServerUnreachableException(String server, String address, String cause) {
    super(server + " at " + address + " cannot be reached: " + cause);
    this.server = server;
  }

  /** Which server: {@code Redis} or {@code PostgreSQL}. */
  public String server() {
    return server;
  }
}
