package io.cachesync.distribution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.testing.SyncHarness;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release tarball as an operator gets it: unpacked outside the source tree and run through its
 * launcher with nothing but a JRE on the PATH (no Maven, no build output on the class path).
 */
class TarballIT {
  private static final Path TARBALL = Path.of(System.getProperty("cachesync.tarball"));
  private static final String VERSION = System.getProperty("cachesync.version");
  private static final Path JAVA_BIN = Path.of(System.getProperty("java.home"), "bin");
  private static final Duration START = Duration.ofSeconds(90);

  @TempDir static Path unpacked;
  @TempDir Path scratch;
  private static Path home;

  private record Result(int exitCode, String out, String err) {}

  @BeforeAll
  static void unpack() throws Exception {
    assertThat(unpacked.toAbsolutePath().startsWith(Path.of("..").toAbsolutePath().normalize()))
        .as("unpacked outside the source tree: " + unpacked)
        .isFalse();
    Process tar =
        new ProcessBuilder("tar", "-xzf", TARBALL.toString(), "-C", unpacked.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(tar.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(tar.exitValue()).as(output).isZero();
    home = unpacked.resolve("cachesync-" + VERSION);
  }

  /** A clean environment: a PATH with the JRE and the shell's tools, and what the test adds. */
  private static ProcessBuilder launcher(Map<String, String> environment, String... arguments) {
    return launcher(home.resolve("bin/cachesync"), environment, arguments);
  }

  private static ProcessBuilder launcher(
      Path script, Map<String, String> environment, String... arguments) {
    List<String> command = new ArrayList<>(List.of(script.toString()));
    command.addAll(List.of(arguments));
    ProcessBuilder builder = new ProcessBuilder(command).directory(unpacked.toFile());
    builder.environment().clear();
    builder.environment().put("PATH", JAVA_BIN + File.pathSeparator + "/usr/bin:/bin");
    builder.environment().putAll(environment);
    return builder;
  }

  private static Result run(ProcessBuilder builder) throws Exception {
    Path out = Files.createTempFile("cachesync-out-", ".txt");
    Path err = Files.createTempFile("cachesync-err-", ".txt");
    try {
      Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("finished").isTrue();
      return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  @Test
  void tarball_holdsOneTopFolderWithLauncherLibrariesConfigUnitAndNotices() throws Exception {
    try (Stream<Path> top = Files.list(unpacked)) {
      assertThat(top.map(p -> p.getFileName().toString())).containsExactly("cachesync-" + VERSION);
    }
    assertThat(Files.getPosixFilePermissions(home.resolve("bin/cachesync")))
        .contains(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OTHERS_EXECUTE);
    assertThat(home.resolve("config/mapping.yml")).isRegularFile();
    assertThat(Files.readString(home.resolve("config/synchronizer.yml")))
        .containsPattern("(?m)^http:");
    assertThat(home.resolve("systemd/cachesync@.service")).isRegularFile();
    assertThat(home.resolve("README")).content().contains("bin/cachesync run --config");
    assertThat(home.resolve("NOTICE")).content().contains("licenses/THIRD-PARTY.txt");
    assertThat(jars())
        .contains(
            "cachesync-model-" + VERSION + ".jar",
            "cachesync-config-" + VERSION + ".jar",
            "cachesync-synchronizer-" + VERSION + ".jar",
            "debezium-embedded-" + System.getProperty("cachesync.debeziumVersion") + ".jar",
            "lettuce-core-" + System.getProperty("cachesync.lettuceVersion") + ".jar");
  }

  private static Set<String> jars() throws IOException {
    try (Stream<Path> lib = Files.list(home.resolve("lib"))) {
      return lib.map(p -> p.getFileName().toString())
          .collect(Collectors.toCollection(TreeSet::new));
    }
  }

  @Test
  void thirdPartyList_namesEveryBundledJarAndEachLicenseHasItsText() throws Exception {
    String list = Files.readString(home.resolve("licenses/THIRD-PARTY.txt"));
    Set<String> listed = new TreeSet<>();
    Matcher jar = Pattern.compile("(?m)^lib/(\\S+\\.jar)$").matcher(list);
    while (jar.find()) {
      listed.add(jar.group(1));
    }
    Set<String> thirdParty =
        jars().stream()
            .filter(name -> !name.startsWith("cachesync-"))
            .collect(Collectors.toCollection(TreeSet::new));

    assertThat(listed).as("jars in THIRD-PARTY.txt").isEqualTo(thirdParty);
    Matcher license =
        Pattern.compile("(?m)^  license: (\\S+)  \\(licenses/(\\S+)\\)$").matcher(list);
    Set<String> texts = new TreeSet<>();
    while (license.find()) {
      assertThat(license.group(2)).isEqualTo(license.group(1) + ".txt");
      texts.add(license.group(2));
    }
    assertThat(texts).contains("Apache-2.0.txt", "EPL-1.0.txt", "LGPL-2.1.txt");
    for (String text : texts) {
      assertThat(home.resolve("licenses").resolve(text)).as(text).isNotEmptyFile();
    }
    // Every bundled jar has at least one license line.
    assertThat(list.split("\n\n"))
        .filteredOn(b -> b.startsWith("lib/"))
        .allSatisfy(block -> assertThat(block).contains("\n  license: "));
  }

  @Test
  void version_throughASymlink_printsCachesyncDebeziumLettuceAndJavaVersions() throws Exception {
    Path links = Files.createDirectories(scratch.resolve("links"));
    Path link = links.resolve("cachesync");
    Files.createSymbolicLink(link, links.relativize(home.resolve("bin/cachesync")));

    Result result = run(launcher(link, Map.of(), "--version"));

    assertThat(result.exitCode()).as(result.err()).isZero();
    assertThat(result.out().lines())
        .containsExactly(
            "cachesync " + VERSION,
            "Debezium " + System.getProperty("cachesync.debeziumVersion"),
            "Lettuce " + System.getProperty("cachesync.lettuceVersion"),
            "Java "
                + Runtime.version()
                + " ("
                + System.getProperty("java.vendor")
                + ", "
                + System.getProperty("java.vm.name")
                + ", "
                + System.getProperty("java.home")
                + ")");
    assertThat(result.err()).as("nothing on stderr (no Logback status lines)").isEmpty();
  }

  @Test
  void javaOptions_fromTheEnvironment_reachTheJvm() throws Exception {
    Result result =
        run(
            launcher(
                Map.of("CACHESYNC_JAVA_OPTS", "-Xmx200m -XX:+PrintCommandLineFlags"), "--version"));

    assertThat(result.exitCode()).as(result.err()).isZero();
    assertThat(result.out())
        .contains("-XX:MaxHeapSize=209715200")
        .contains("-XX:+ExitOnOutOfMemoryError")
        .contains("cachesync " + VERSION);
  }

  @Test
  void launcher_javaHomeWithoutJava_exitsTwoNamingJavaHome() throws Exception {
    Result result = run(launcher(Map.of("JAVA_HOME", "/nonexistent/jdk"), "--version"));

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.out()).isEmpty();
    assertThat(result.err())
        .isEqualTo(
            "cachesync: JAVA_HOME is '/nonexistent/jdk' but /nonexistent/jdk/bin/java does not"
                + " exist or is not executable; point JAVA_HOME at a Java 17+ runtime, or unset it"
                + " to use the java on the PATH\n");
  }

  @Test
  void launcher_noJavaHomeAndNoJavaOnThePath_exitsTwoNamingBoth() throws Exception {
    Result result = run(launcher(Map.of("PATH", "/nonexistent"), "--version"));

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err())
        .isEqualTo(
            "cachesync: no Java found: JAVA_HOME is not set and there is no java on the PATH"
                + " (/nonexistent); install a Java 17+ runtime (e.g. apt-get install"
                + " openjdk-17-jre-headless) or set JAVA_HOME\n");
  }

  @Test
  void launcher_javaTooOld_exitsTwoNamingTheVersionFound() throws Exception {
    Path oldJdk = scratch.resolve("jdk8");
    Path java = Files.createDirectories(oldJdk.resolve("bin")).resolve("java");
    Files.writeString(java, "#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\nexit 0\n");
    java.toFile().setExecutable(true);

    Result result = run(launcher(Map.of("JAVA_HOME", oldJdk.toString()), "--version"));

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err())
        .isEqualTo(
            "cachesync: the Java from JAVA_HOME ("
                + java
                + ") is version 1.8.0_392; cachesync needs Java 17 or newer: set JAVA_HOME to a"
                + " Java 17+ runtime or put one first on the PATH\n");
  }

  @Test
  void run_rowChanges_reachRedisAndSigtermStopsItWithExitZero() throws Exception {
    try (SyncHarness harness = new SyncHarness("tarball")) {
      harness.sql(
          "CREATE TABLE items (id int PRIMARY KEY, name text)",
          "INSERT INTO items VALUES (1, 'loaded')");
      Path config = harness.config("tables:\n  - table: public.items\n    key: \"item:{id}\"\n");
      Path log = scratch.resolve("daemon.log");
      Process daemon =
          launcher(Map.of("CACHESYNC_JAVA_OPTS", "-Xmx256m"), "run", "--config", config.toString())
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      try {
        // exec: the launcher's process becomes the JVM itself, so signals reach the daemon.
        await("the launcher replaced by java")
            .atMost(Duration.ofSeconds(10))
            .until(() -> daemon.info().command().orElse(""), command -> command.endsWith("/java"));
        await("the initial load")
            .atMost(START)
            .failFast(
                () -> assertThat(daemon.isAlive()).as("running; its log:\n%s", read(log)).isTrue())
            .until(() -> harness.redis.hash("item:1").equals(Map.of("id", "1", "name", "loaded")));

        harness.sql(
            "INSERT INTO items VALUES (2, 'streamed')",
            "UPDATE items SET name = 'changed' WHERE id = 1");
        await("the changes streamed")
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(
                () -> {
                  assertThat(harness.redis.hash("item:1"))
                      .isEqualTo(Map.of("id", "1", "name", "changed"));
                  assertThat(harness.redis.hash("item:2"))
                      .isEqualTo(Map.of("id", "2", "name", "streamed"));
                });

        daemon.destroy(); // SIGTERM
        assertThat(daemon.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s").isTrue();
        assertThat(daemon.exitValue()).as(Files.readString(log)).isZero();
      } finally {
        daemon.destroyForcibly();
      }
    }
  }

  private static String read(Path file) throws IOException {
    return Files.exists(file) ? Files.readString(file) : "";
  }

  @Test
  void systemdUnit_withItsPathsInThisTarball_passesSystemdAnalyzeVerify() throws Exception {
    Path analyze = Path.of("/usr/bin/systemd-analyze");
    assumeThat(Files.isExecutable(analyze))
        .as("systemd-analyze is not installed: the unit is not verified")
        .isTrue();
    String unit = Files.readString(home.resolve("systemd/cachesync@.service"));
    assertThat(unit)
        .contains(
            "ExecStart=/opt/cachesync/bin/cachesync run --config /etc/cachesync/%i/synchronizer.yml")
        .contains("RestartPreventExitStatus=2")
        .contains("User=cachesync")
        .contains("TimeoutStopSec=90s")
        .doesNotContain("MemoryDenyWriteExecute=");
    // systemd-analyze checks that ExecStart's program exists: point the unit at this tarball.
    Path units = Files.createDirectories(scratch.resolve("units"));
    Files.writeString(
        units.resolve("cachesync@.service"), unit.replace("/opt/cachesync", home.toString()));

    ProcessBuilder verify =
        new ProcessBuilder(
                analyze.toString(), "verify", units.resolve("cachesync@it.service").toString())
            .directory(units.toFile());
    Result result = run(verify);

    assertThat(result.exitCode()).as(result.err()).isZero();
    assertThat(result.out() + result.err()).as("no warnings").isEmpty();
  }
}
