package io.cachesync.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cachesync.config.HttpSettings;
import io.cachesync.deploy.ComposeFile.Service;
import io.cachesync.deploy.ComposeFile.Volume;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * {@code docker-compose.yml} without a Docker engine: Debian's {@code docker-compose} validates it
 * ({@code config -q}), and its services agree with one another, with the image and with the files
 * they mount. {@link ComposeTopologyIT} runs what it describes from local binaries.
 */
class ComposeFileIT {
  private static final Pattern SENTINEL_MONITOR =
      Pattern.compile("^sentinel monitor (\\S+) (\\S+) (\\d+) (\\d+)$", Pattern.MULTILINE);

  private final ComposeFile compose = Repository.compose();

  @Test
  void dockerComposeConfig_composeFile_isValid() throws Exception {
    assumeTrue(
        onPath("docker-compose"),
        "docker-compose is not installed (scripts/test installs the Debian package): the compose"
            + " file's syntax is not checked");
    Process process =
        new ProcessBuilder("docker-compose", "-f", compose.file().toString(), "config", "-q")
            .directory(Repository.ROOT.toFile())
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("docker-compose finished").isTrue();

    assertThat(process.exitValue()).as(output).isZero();
    assertThat(output).as("warnings").isEmpty();
  }

  @Test
  void services_areTheDemoTopology_eachWithAHealthCheck() {
    assertThat(compose.serviceNames())
        .containsExactly("postgres", "redis", "redis-replica", "sentinel", "cachesync");
    for (String name : compose.serviceNames()) {
      assertThat(compose.service(name).healthcheck())
          .as(name + "'s health check")
          .hasSizeGreaterThan(1)
          .first()
          .isIn("CMD", "CMD-SHELL");
    }
  }

  @Test
  void cachesync_startsAfterEveryOtherServiceIsHealthy() {
    assertThat(compose.service("cachesync").dependsOn())
        .isEqualTo(
            Map.of(
                "postgres", "service_healthy",
                "redis", "service_healthy",
                "redis-replica", "service_healthy",
                "sentinel", "service_healthy"));
  }

  @Test
  void postgres_runsLogicalDecoding() {
    assertThat(ComposeTopologyIT.postgresSettings(compose.service("postgres")))
        .containsEntry("wal_level", "logical")
        .containsKeys("max_replication_slots", "max_wal_senders");
  }

  @Test
  void postgres_initScript_isTheQuickstartsDemoDatabase() throws IOException {
    Volume script = ComposeTopologyIT.initScript(compose.service("postgres"));

    assertThat(script.source()).isEqualTo(Repository.ROOT.resolve("config/examples/shop.sql"));
    assertThat(script.readOnly()).isTrue();
    assertThat(Files.readString(Repository.ROOT.resolve("scripts/quickstart")))
        .contains("-f \"$root/config/examples/shop.sql\"");
    assertThat(compose.service("postgres").environment()).containsEntry("POSTGRES_DB", "shop");
  }

  @Test
  void cachesync_logsInWithThePostgresServicesDatabaseUserAndPassword() {
    Map<String, String> postgres = compose.service("postgres").environment();
    Map<String, String> cachesync = compose.service("cachesync").environment();

    assertThat(cachesync)
        .containsEntry("CACHESYNC_PGHOST", "postgres")
        .containsEntry("CACHESYNC_PGDATABASE", postgres.get("POSTGRES_DB"))
        .containsEntry("CACHESYNC_PGUSER", postgres.get("POSTGRES_USER"))
        .containsEntry("CACHESYNC_PGPASSWORD", postgres.get("POSTGRES_PASSWORD"));
    assertThat(postgres.get("POSTGRES_PASSWORD")).isNotEmpty();
  }

  @Test
  void sentinel_monitorsTheMasterCachesyncFollows() {
    URI uri = URI.create(compose.service("cachesync").environment().get("CACHESYNC_REDIS_URI"));
    Matcher monitor = sentinelMonitor(compose.service("sentinel"));
    Service master = compose.service(monitor.group(2));

    assertThat(uri.getScheme()).isEqualTo("redis-sentinel");
    assertThat(uri.getHost()).isEqualTo("sentinel");
    assertThat(uri.getPort()).isEqualTo(ComposeTopologyIT.containerPort(compose, "sentinel"));
    assertThat(uri.getFragment()).as("master name").isEqualTo(monitor.group(1));
    assertThat(Integer.parseInt(monitor.group(3)))
        .isEqualTo(ComposeTopologyIT.containerPort(compose, master.name()));
    assertThat(monitor.group(4)).as("quorum of the one Sentinel").isEqualTo("1");
    assertThat(compose.service("sentinel").healthcheck().get(1))
        .contains("get-master-addr-by-name " + monitor.group(1));
  }

  @Test
  void replica_replicatesTheMasterSentinelMonitors() {
    Matcher monitor = sentinelMonitor(compose.service("sentinel"));
    List<String> command = compose.service("redis-replica").command();
    int at = command.indexOf("--replicaof");

    assertThat(command.subList(at + 1, at + 3)).containsExactly(monitor.group(2), monitor.group(3));
  }

  @Test
  void cachesync_mountsTheExampleConfigurationReadOnlyWhereTheImageReadsIt() {
    List<String> imageCommand = Repository.dockerfile().finalStage().last("CMD").execForm();
    Path config = Path.of(imageCommand.get(imageCommand.indexOf("--config") + 1));

    assertThat(compose.service("cachesync").volumes())
        .containsExactly(
            new Volume(
                Repository.ROOT.resolve("config/examples"), config.getParent().toString(), true));
    assertThat(Repository.ROOT.resolve("config/examples").resolve(config.getFileName()))
        .isRegularFile();
  }

  @Test
  void cachesync_endpoint_listensOnAllInterfacesOnThePortItPublishesAndChecks() {
    Service cachesync = compose.service("cachesync");
    String port = cachesync.environment().get("CACHESYNC_HTTP_PORT");

    assertThat(port).isEqualTo(Integer.toString(HttpSettings.DEFAULT_PORT));
    assertThat(cachesync.environment()).containsEntry("CACHESYNC_HTTP_HOST", "0.0.0.0");
    assertThat(cachesync.ports()).containsExactly("127.0.0.1:" + port + ":" + port);
    assertThat(String.join(" ", cachesync.healthcheck()))
        .contains("/dev/tcp/127.0.0.1/" + port)
        .contains("GET /health/ready ");
    assertThat(Repository.dockerfile().finalStage().last("EXPOSE").arguments()).isEqualTo(port);
  }

  static Matcher sentinelMonitor(Service sentinel) {
    Matcher monitor = SENTINEL_MONITOR.matcher(String.join("\n", sentinel.command()));
    assertThat(monitor.find()).as("a 'sentinel monitor' line in " + sentinel.command()).isTrue();
    return monitor;
  }

  private static boolean onPath(String executable) {
    return Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
        .anyMatch(directory -> Files.isExecutable(Path.of(directory, executable)));
  }
}
