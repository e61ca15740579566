package io.cachesync.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.HttpSettings;
import io.cachesync.deploy.Dockerfile.Instruction;
import io.cachesync.deploy.Dockerfile.Stage;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The {@code Dockerfile}, without a Docker engine (the image is not built here): its build stage
 * copies every module and runs the Maven command that makes the jar the image copies (after {@code
 * mvn package}, as here, that jar exists and runs with {@code java -jar}), {@code .dockerignore}
 * keeps none of the sources out, and the image runs it as a non-root user through {@code exec}.
 * {@link ComposeTopologyIT} runs the image's ENTRYPOINT and CMD from local files.
 */
class DockerfileIT {
  private static final Pattern MODULE = Pattern.compile("<module>([^<]+)</module>");

  private final Dockerfile dockerfile = Repository.dockerfile();
  private final Stage build = dockerfile.stage("build");
  private final Stage image = dockerfile.finalStage();

  @Test
  void buildStage_runsMavenPackageWithoutTests() {
    assertThat(build.all("RUN")).hasSize(1);
    Instruction run = build.last("RUN");

    assertThat(run.words()).containsExactly("mvn", "-B", "-ntp", "-DskipTests", "package");
    assertThat(run.option("mount")).hasValue("type=cache,target=/root/.m2");
    assertThat(build.image()).startsWith("maven:").contains("-eclipse-temurin-17");
  }

  @Test
  void buildStage_copiesTheRootPomAndEveryModule() throws IOException {
    List<String> copied = new ArrayList<>();
    for (Instruction copy : build.all("COPY")) {
      List<String> words = copy.words();
      assertThat(words).as(copy.arguments()).hasSize(2);
      assertThat(words.get(1)).isIn(words.get(0), "./");
      copied.add(words.get(0));
    }
    List<String> expected = new ArrayList<>(List.of("pom.xml"));
    Matcher module = MODULE.matcher(Files.readString(Repository.ROOT.resolve("pom.xml")));
    while (module.find()) {
      expected.add(module.group(1));
    }

    assertThat(copied).containsExactlyElementsOf(expected);
  }

  @Test
  void dockerignore_keepsBuildOutputOutAndEverySourceIn() throws IOException {
    List<PathMatcher> ignored = new ArrayList<>();
    for (String line : Files.readAllLines(Repository.ROOT.resolve(".dockerignore"))) {
      String pattern = line.strip().replaceAll("/$", "");
      if (!pattern.isEmpty() && !pattern.startsWith("#")) {
        ignored.add(FileSystems.getDefault().getPathMatcher("glob:" + pattern));
        ignored.add(FileSystems.getDefault().getPathMatcher("glob:" + pattern + "/**"));
        if (pattern.startsWith("**/")) {
          ignored.add(FileSystems.getDefault().getPathMatcher("glob:" + pattern.substring(3)));
          ignored.add(
              FileSystems.getDefault().getPathMatcher("glob:" + pattern.substring(3) + "/**"));
        }
      }
    }
    List<Path> sources = new ArrayList<>();
    for (Instruction copy : build.all("COPY")) {
      // Build output is not walked into: another test JVM may be writing and deleting files there.
      Files.walkFileTree(
          Repository.ROOT.resolve(copy.words().get(0)),
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(
                Path directory, BasicFileAttributes attributes) {
              return directory.getFileName().toString().equals("target")
                  ? FileVisitResult.SKIP_SUBTREE
                  : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
              if (attributes.isRegularFile()) {
                sources.add(Repository.ROOT.relativize(file));
              }
              return FileVisitResult.CONTINUE;
            }
          });
    }

    assertThat(sources)
        .contains(Path.of("synchronizer/pom.xml"))
        .filteredOn(file -> ignored.stream().anyMatch(matcher -> matcher.matches(file)))
        .as("sources .dockerignore keeps out of the build")
        .isEmpty();
    assertThat(Path.of("synchronizer/target/cachesync.jar"))
        .matches(file -> ignored.stream().anyMatch(matcher -> matcher.matches(file)), "ignored");
  }

  @Test
  void image_copiesTheJarTheBuildStageMakes_whichRunsWithJavaJar() throws IOException {
    Instruction copy = image.last("COPY");
    String workdir = build.last("WORKDIR").arguments() + "/";

    assertThat(copy.option("from")).hasValue("build");
    assertThat(copy.words().get(0)).startsWith(workdir);
    Path jar = Repository.ROOT.resolve(copy.words().get(0).substring(workdir.length()));
    assertThat(jar).isRegularFile();
    try (JarFile file = new JarFile(jar.toFile())) {
      assertThat(file.getManifest().getMainAttributes().getValue("Main-Class"))
          .isEqualTo("io.cachesync.cli.CachesyncCommand");
      assertThat(
              file.getEntry("META-INF/services/io.debezium.engine.DebeziumEngine$BuilderFactory"))
          .as("the merged ServiceLoader file Debezium needs")
          .isNotNull();
    }
  }

  @Test
  void image_runsTheCopiedJarThroughExec_asNonRoot_withTheRunCommand() {
    String jar = image.last("COPY").words().get(1);
    List<String> entrypoint = image.last("ENTRYPOINT").execForm();

    assertThat(image.image()).startsWith("eclipse-temurin:17-jre").doesNotContain("alpine");
    assertThat(entrypoint.subList(0, 2)).containsExactly("sh", "-c");
    assertThat(entrypoint.get(2))
        .startsWith(
            "set -f; exec java -XX:+ExitOnOutOfMemoryError $CACHESYNC_JAVA_OPTS -jar "
                + jar
                + " \"$@\"");
    assertThat(image.last("CMD").execForm())
        .containsExactly("run", "--config", "/etc/cachesync/synchronizer.yml");
    assertThat(image.last("USER").arguments()).doesNotStartWith("0").doesNotStartWith("root");
    assertThat(image.last("EXPOSE").arguments())
        .isEqualTo(Integer.toString(HttpSettings.DEFAULT_PORT));
  }
}
