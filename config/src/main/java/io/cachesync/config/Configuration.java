package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.Mapping;
import java.nio.file.Path;
import java.util.List;

/**
 * Both configuration files, loaded and checked.
 *
 * @param warnings what works but should be changed (e.g. a password file others can read), each
 *     located like a {@link Problem}; commands print them when they start
 */
public record Configuration(
    Path file, SynchronizerSettings settings, Mapping mapping, List<Problem> warnings) {
  public Configuration {
    requireNonNull(file, "file");
    requireNonNull(settings, "settings");
    requireNonNull(mapping, "mapping");
    warnings = List.copyOf(warnings);
  }

  /** A configuration without warnings. */
  public Configuration(Path file, SynchronizerSettings settings, Mapping mapping) {
    this(file, settings, mapping, List.of());
  }
}
