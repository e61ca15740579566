package io.cachesync.model;

import java.util.Locale;

/** What a change to a row does to its key. */
public enum SyncMode {
  /** Inserts and updates write the row's projection; deletes evict the key. */
  WRITE,
  /** Every change evicts the key; the application fills the cache on a miss. */
  EVICT;

  /** The name used in the mapping file. */
  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
