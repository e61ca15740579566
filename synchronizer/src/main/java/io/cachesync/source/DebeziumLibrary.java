package io.cachesync.source;

import io.debezium.connector.postgresql.Module;

/** The Debezium release on the class path, as Debezium itself reports it. */
public final class DebeziumLibrary {
  private DebeziumLibrary() {}

  /**
   * The version of the PostgreSQL connector, from the {@code build.version} file inside its jar
   * (the engine and the connector come from one Debezium release).
   */
  public static String version() {
    return Module.version();
  }
}
