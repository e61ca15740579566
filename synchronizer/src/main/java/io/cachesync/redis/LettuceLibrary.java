package io.cachesync.redis;

import io.lettuce.core.RedisClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The Lettuce release on the class path, as its jar records it. */
public final class LettuceLibrary {
  /**
   * Written into the jar by Maven when Lettuce was built. Lettuce's own {@code LettuceVersion}
   * reads the manifest of whatever jar holds the package, which in a shaded jar is cachesync's.
   */
  private static final String POM_PROPERTIES =
      "/META-INF/maven/io.lettuce/lettuce-core/pom.properties";

  private LettuceLibrary() {}

  /** The version, or {@code unknown} when the jar carries no record of it. */
  public static String version() {
    try (InputStream in = RedisClient.class.getResourceAsStream(POM_PROPERTIES)) {
      if (in == null) {
        return "unknown";
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version", "unknown");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
