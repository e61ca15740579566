package io.cachesync.model;

import java.util.Locale;

/** How a row is stored under its key. */
public enum ValueFormat {
  /** A Redis hash with one field per column; SQL NULL columns are absent. */
  HASH,
  /**
   * A Redis string holding one JSON object with one member per column; SQL NULL is {@code null}.
   */
  JSON;

  /** The name used in the mapping file. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
