package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.testing.ConfigFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged command line, run the way operators run it: through {@code scripts/cachesync}. */
class DistributionIT {
  private static final Path SCRIPT =
      Path.of("..", "scripts", "cachesync").toAbsolutePath().normalize();

  @TempDir Path directory;

  private record Result(int exitCode, String output) {}

  private static Result run(String... arguments) throws IOException, InterruptedException {
    List<String> command = new java.util.ArrayList<>(List.of(SCRIPT.toString()));
    command.addAll(List.of(arguments));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("finished").isTrue();
    return new Result(process.exitValue(), output);
  }

  @Test
  void help_listsTheCommandsAndExitCodes() throws Exception {
    Result result = run("--help");

    assertThat(result.exitCode()).isZero();
    assertThat(result.output())
        .contains("Usage: cachesync")
        .contains("validate")
        .contains("3     PostgreSQL or Redis cannot be reached");
  }

  @Test
  void version_shadedJar_printsTheVersionsOfCachesyncAndItsLibraries() throws Exception {
    Result result = run("--version");

    assertThat(result.exitCode()).as(result.output()).isZero();
    // Lettuce's own LettuceVersion would read the shaded jar's manifest: cachesync's version.
    assertThat(result.output().lines().limit(3))
        .containsExactly(
            "cachesync " + System.getProperty("cachesync.version"),
            "Debezium " + System.getProperty("cachesync.debeziumVersion"),
            "Lettuce " + System.getProperty("cachesync.lettuceVersion"));
    // The java on the PATH, which need not be the one running this test; nothing else printed.
    assertThat(result.output().lines().skip(3))
        .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .matches("Java \\d+[^ ]* \\(.+, .+, /.+\\)");
  }

  @Test
  void validateOffline_validFiles_exitsZeroWithTheSummary() throws Exception {
    Path config =
        ConfigFiles.write(
            directory,
            "shop",
            "database: shop\nuser: cachesync\n",
            "redis://127.0.0.1:6379",
            "tables:\n  - table: public.users\n    key: \"user:{id}\"\n");

    Result result = run("validate", "--config", config.toString(), "--offline");

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).contains("public.users  user:{id}  hash, write, all columns");
  }

  @Test
  void validate_invalidFiles_exitsTwoWithoutAStackTrace() throws Exception {
    Path config =
        ConfigFiles.write(
            directory,
            "Shop",
            "database: shop\nuser: cachesync\n",
            "redis://127.0.0.1:6379",
            "tables:\n  - table: public.users\n    key: \"user:{id}\"\n");

    Result result = run("validate", "--config", config.toString(), "--offline");

    assertThat(result.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(result.output())
        .startsWith(
            "1 configuration problem:\n  1. " + config + ":1:1: name: 'Shop' is not a valid name")
        .doesNotContain("Exception")
        .doesNotContain("\tat ");
  }
}
