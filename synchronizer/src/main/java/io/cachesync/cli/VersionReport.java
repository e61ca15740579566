package io.cachesync.cli;

import io.cachesync.redis.LettuceLibrary;
import io.cachesync.source.DebeziumLibrary;
import picocli.CommandLine;

/**
 * {@code cachesync --version}: cachesync's version and those of the libraries and the Java runtime
 * it runs with, each read at run time from what the running build holds.
 */
final class VersionReport implements CommandLine.IVersionProvider {

  @Override
  public String[] getVersion() {
    return new String[] {
      "cachesync " + cachesyncVersion(),
      "Debezium " + DebeziumLibrary.version(),
      "Lettuce " + LettuceLibrary.version(),
      "Java "
          + Runtime.version()
          + " ("
          + System.getProperty("java.vendor")
          + ", "
          + System.getProperty("java.vm.name")
          + ", "
          + System.getProperty("java.home")
          + ")"
    };
  }

  /** From the manifest of the jar that holds the command line (Implementation-Version). */
  private static String cachesyncVersion() {
    String version = CachesyncCommand.class.getPackage().getImplementationVersion();
    return version == null ? "(development build)" : version;
  }
}
