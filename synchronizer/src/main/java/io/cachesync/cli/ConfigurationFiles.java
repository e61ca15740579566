package io.cachesync.cli;

import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationException;
import io.cachesync.config.ConfigurationLoader;
import io.cachesync.config.Problem;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** How every command but {@code validate} loads its configuration: warnings go to the log. */
final class ConfigurationFiles {
  private static final Logger LOG = LoggerFactory.getLogger(ConfigurationFiles.class);

  private ConfigurationFiles() {}

  /**
   * Loads {@code file} and the mapping it names, names the log lines after the synchronizer and
   * logs every warning.
   */
  static Configuration load(Path file) throws ConfigurationException {
    Configuration configuration = ConfigurationLoader.fromEnvironment().load(file);
    LogLines.name(configuration.settings().name());
    for (Problem warning : configuration.warnings()) {
      LOG.warn("Configuration: {}", warning);
    }
    return configuration;
  }
}
