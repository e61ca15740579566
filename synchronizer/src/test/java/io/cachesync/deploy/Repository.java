package io.cachesync.deploy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Where the deployment files are: the repository's root, above the module the tests run in. */
final class Repository {
  static final Path ROOT = find();

  private Repository() {}

  static ComposeFile compose() {
    return ComposeFile.load(ROOT.resolve("docker-compose.yml"));
  }

  static Dockerfile dockerfile() {
    return Dockerfile.load(ROOT.resolve("Dockerfile"));
  }

  private static Path find() {
    Path start = Path.of("").toAbsolutePath();
    return Stream.iterate(start, folder -> folder != null, Path::getParent)
        .filter(folder -> Files.isRegularFile(folder.resolve("docker-compose.yml")))
        .findFirst()
        .orElseThrow(
            () -> new IllegalStateException("no folder holding docker-compose.yml above " + start));
  }
}
