package io.cachesync.config;

import static java.util.Objects.requireNonNull;

import io.cachesync.model.Mapping;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Loads {@code synchronizer.yml} and the mapping file it names, reporting every problem in both at
 * once.
 */
public final class ConfigurationLoader {
  private final Interpolator interpolator;

  /**
   * @param environment the variables {@code ${VAR}} references are read from
   */
  public ConfigurationLoader(Map<String, String> environment) {
    this.interpolator = new Interpolator(requireNonNull(environment, "environment"));
  }

  public static ConfigurationLoader fromEnvironment() {
    return new ConfigurationLoader(System.getenv());
  }

  /**
   * Loads both files.
   *
   * @param file {@code synchronizer.yml}; messages name it as given here
   * @throws ConfigurationException listing every problem found in either file
   */
  public Configuration load(Path file) throws ConfigurationException {
    Problems problems = new Problems();
    String displayName = file.toString();
    SettingsReader.Result settings = SettingsReader.read(file, displayName, problems, interpolator);
    Optional<Mapping> mapping = Optional.empty();
    Optional<Path> mappingFile = settings.mapping().map(name -> resolve(file.getParent(), name));
    if (mappingFile.isPresent()) {
      if (Files.isRegularFile(mappingFile.get())) {
        mapping =
            MappingReader.read(
                mappingFile.get(), mappingFile.get().toString(), problems, interpolator);
      } else {
        problems.add(
            displayName,
            settings.mappingLocation(),
            "mapping",
            "mapping file "
                + mappingFile.get()
                + " does not exist (looked for "
                + mappingFile.get().toAbsolutePath()
                + "); create it or point 'mapping' at it");
      }
    }
    problems.throwIfAny();
    SynchronizerSettings read = settings.settings().orElseThrow();
    return new Configuration(
        file,
        new SynchronizerSettings(
            read.name(), read.postgres(), read.redis(), mappingFile.orElseThrow(), read.http()),
        mapping.orElseThrow(),
        problems.warnings());
  }

  /**
   * A path written in a configuration file: relative to {@code directory}, the folder of
   * synchronizer.yml (the current folder when null), unless absolute. Every file the settings name
   * (mapping, password files, certificates, keys) is found this way.
   */
  static Path resolve(Path directory, Path path) {
    return directory == null || path.isAbsolute() ? path : directory.resolve(path).normalize();
  }
}
