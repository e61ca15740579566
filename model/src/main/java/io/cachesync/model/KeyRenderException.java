package io.cachesync.model;

/** A row whose values cannot form an unambiguous key. */
public final class KeyRenderException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public KeyRenderException(String message) {
    super(message);
  }
}
