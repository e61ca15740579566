package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.Mapping;
import java.nio.file.Path;

/** Both configuration files, loaded and checked. */
public record Configuration(Path file, SynchronizerSettings settings, Mapping mapping) {
  public Configuration {
    requireNonNull(file, "file");
    requireNonNull(settings, "settings");
    requireNonNull(mapping, "mapping");
  }
}
