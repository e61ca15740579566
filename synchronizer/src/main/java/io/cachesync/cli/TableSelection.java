package io.cachesync.cli;

import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationException;
import io.cachesync.job.Resync;
import io.cachesync.model.TableMapping;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The {@code --config} and {@code --table} options that resync and verify share. */
final class TableSelection {

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "synchronizer.yml")
  Path config;

  @Option(
      names = "--table",
      paramLabel = "T",
      description = "A mapped table (schema.table); repeatable. Default: every mapped table.")
  List<String> tables = new ArrayList<>();

  Configuration load() throws ConfigurationException {
    return ConfigurationFiles.load(config);
  }

  /** The named tables; empty, after saying why on {@code err}, when one is not mapped. */
  Optional<List<TableMapping>> select(Configuration configuration, PrintWriter err) {
    try {
      return Optional.of(Resync.select(configuration, tables));
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      return Optional.empty();
    }
  }
}
