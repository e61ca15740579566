package io.cachesync.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cachesync.deploy.ComposeFile.Service;
import io.cachesync.deploy.ComposeFile.Volume;
import io.cachesync.deploy.Dockerfile.Instruction;
import io.cachesync.deploy.Dockerfile.Stage;
import io.cachesync.testing.DaemonProcess;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisProbe;
import io.cachesync.testing.RedisSentinelGroup;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What {@code docker-compose.yml} describes, run from the local binaries instead of images: a
 * PostgreSQL with the postgres service's {@code -c} settings and its init script, a Redis master,
 * replica and Sentinel knowing the master by the sentinel service's name for it, and the daemon
 * started by the image's ENTRYPOINT and CMD with the cachesync service's environment and mounted
 * configuration. Compose's host names become 127.0.0.1 and its ports the local servers' ports;
 * container paths become the files they are mounted or copied from. Each service's health check
 * runs against its local counterpart the same way.
 */
class ComposeTopologyIT {
  /** The port of the postgres service: the image's, PostgreSQL's default. */
  private static final int POSTGRES_PORT = 5432;

  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Pattern PORT_LINE = Pattern.compile("^port (\\d+)$", Pattern.MULTILINE);

  private final ComposeFile compose = Repository.compose();
  private final Dockerfile dockerfile = Repository.dockerfile();
  private final List<AutoCloseable> started = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close();
    }
  }

  @Test
  void update_inTheComposeStackRunLocally_reachesTheMasterFoundThroughSentinel() throws Exception {
    Service postgresService = compose.service("postgres");
    PostgresServer postgres = started(TestServers.postgres(postgresSettings(postgresService)));
    String database = postgresService.environment().get("POSTGRES_DB");
    postgres.execute("postgres", "CREATE DATABASE " + database);
    postgres.execute(database, Files.readString(initScript(postgresService).source()));
    assertThat(show(postgres, database, "wal_level")).isEqualTo("logical");

    RedisServer master = started(TestServers.redis());
    String masterName = ComposeFileIT.sentinelMonitor(compose.service("sentinel")).group(1);
    RedisSentinelGroup group = started(new RedisSentinelGroup(master, masterName));

    Map<String, Integer> localPorts =
        Map.of(
            "postgres", postgres.port(),
            "redis", master.port(),
            "redis-replica", group.replica().port(),
            "sentinel", group.sentinelPort(),
            "cachesync", freePort());
    Map<String, String> environment = local(compose.service("cachesync").environment(), localPorts);
    assertThat(environment)
        .containsEntry("CACHESYNC_PGHOST", "127.0.0.1")
        .containsEntry("CACHESYNC_PGPORT", Integer.toString(postgres.port()))
        .containsEntry("CACHESYNC_REDIS_URI", group.uri());
    List<String> healthcheck = healthcheck("cachesync", localPorts);
    assertThat(run(healthcheck)).as("cachesync's health check before it runs").isNotZero();

    DaemonProcess daemon = started(DaemonProcess.of(imageCommand(), environment)).start();
    try (RedisProbe probe = new RedisProbe(group.master())) {
      await("user:1 loaded")
          .atMost(WAIT)
          .failFast("the daemon exited:\n" + daemon.tail(), () -> !daemon.alive())
          .until(() -> probe.hash("user:1").get("name"), "Ada"::equals);

      postgres.execute(database, "UPDATE users SET name = 'Ada Lovelace' WHERE id = 1");

      await("the update in Redis")
          .atMost(WAIT)
          .until(() -> probe.hash("user:1").get("name"), "Ada Lovelace"::equals);
      assertThat(probe.hash("user:1"))
          .containsEntry("id", "1")
          .containsEntry("email", "ada@example.com");
    }
    group.awaitReplicaInSync();
    try (RedisProbe replica = new RedisProbe(group.replica())) {
      assertThat(replica.hash("user:1")).containsEntry("name", "Ada Lovelace");
    }

    for (String service : compose.serviceNames()) {
      List<String> check = healthcheck(service, localPorts);
      await(service + "'s health check " + check)
          .atMost(WAIT)
          .pollInterval(Duration.ofMillis(500))
          .until(() -> run(check) == 0);
    }
    assertThat(daemon.terminate(Duration.ofSeconds(30)))
        .as("exit code after SIGTERM to the entrypoint's process\n" + daemon.tail())
        .isZero();
  }

  /** The postgres service's {@code -c name=value} settings. */
  static Map<String, String> postgresSettings(Service postgres) {
    List<String> command = postgres.command();
    Map<String, String> settings = new LinkedHashMap<>();
    for (int i = 0; i < command.size() - 1; i++) {
      if (command.get(i).equals("-c")) {
        String[] setting = command.get(i + 1).split("=", 2);
        settings.put(setting[0], setting[1]);
      }
    }
    return settings;
  }

  /** The file the postgres service mounts among the image's init scripts. */
  static Volume initScript(Service postgres) {
    List<Volume> scripts =
        postgres.volumes().stream()
            .filter(volume -> volume.target().startsWith("/docker-entrypoint-initdb.d/"))
            .toList();
    assertThat(scripts).as("init scripts").hasSize(1);
    return scripts.get(0);
  }

  /**
   * The port a service listens on in its container: its command's {@code --port} or {@code port}
   * line, PostgreSQL's default, or cachesync's {@code CACHESYNC_HTTP_PORT}.
   */
  static int containerPort(ComposeFile compose, String name) {
    Service service = compose.service(name);
    List<String> command = service.command();
    int at = command.indexOf("--port");
    if (at >= 0) {
      return Integer.parseInt(command.get(at + 1));
    }
    Matcher line = PORT_LINE.matcher(String.join("\n", command));
    if (line.find()) {
      return Integer.parseInt(line.group(1));
    }
    return switch (name) {
      case "postgres" -> POSTGRES_PORT;
      case "cachesync" -> Integer.parseInt(service.environment().get("CACHESYNC_HTTP_PORT"));
      default -> throw new IllegalStateException("no port for service " + name);
    };
  }

  /**
   * Compose's addresses made local: {@code service:port} becomes {@code 127.0.0.1:local}, a
   * service's name in a {@code *HOST} variable 127.0.0.1, and a port in a {@code *PORT} variable
   * the local port of the one service listening on it.
   */
  private Map<String, String> local(Map<String, String> environment, Map<String, Integer> ports) {
    Map<String, String> local = new LinkedHashMap<>();
    environment.forEach(
        (name, value) -> {
          String mapped = value;
          for (String service : compose.serviceNames()) {
            int port = containerPort(compose, service);
            mapped = mapped.replace(service + ":" + port, "127.0.0.1:" + ports.get(service));
            if (name.endsWith("HOST") && mapped.equals(service)) {
              mapped = "127.0.0.1";
            }
          }
          List<String> listening =
              compose.serviceNames().stream()
                  .filter(
                      service -> value.equals(Integer.toString(containerPort(compose, service))))
                  .toList();
          if (name.endsWith("PORT") && listening.size() == 1) {
            mapped = Integer.toString(ports.get(listening.get(0)));
          }
          local.put(name, mapped);
        });
    return local;
  }

  /**
   * A service's health check as a local command: its own port, and in Sentinel's the port of the
   * master it monitors, replaced by the local servers' ports.
   */
  private List<String> healthcheck(String name, Map<String, Integer> ports) {
    List<String> test = compose.service(name).healthcheck();
    Map<String, Integer> replacements = new LinkedHashMap<>();
    replacements.put(Integer.toString(containerPort(compose, name)), ports.get(name));
    if (name.equals("sentinel")) {
      Matcher monitor = ComposeFileIT.sentinelMonitor(compose.service(name));
      replacements.put(monitor.group(3), ports.get(monitor.group(2)));
    }
    List<String> command = new ArrayList<>();
    if (test.get(0).equals("CMD-SHELL")) {
      command.addAll(List.of("sh", "-c"));
    }
    for (String argument : test.subList(1, test.size())) {
      String local = argument;
      for (Map.Entry<String, Integer> each : replacements.entrySet()) {
        local =
            local.replaceAll(
                "(?<![0-9])" + Pattern.quote(each.getKey()) + "(?![0-9])",
                Integer.toString(each.getValue()));
      }
      command.add(local);
    }
    return command;
  }

  /**
   * The image's ENTRYPOINT and CMD, with the paths of files copied into the image or mounted into
   * the cachesync service replaced by the files they come from.
   */
  private List<String> imageCommand() {
    Stage image = dockerfile.finalStage();
    Map<String, String> paths = new LinkedHashMap<>();
    for (Instruction copy : image.all("COPY")) {
      List<String> words = copy.words();
      String source = words.get(0);
      if (copy.option("from").isPresent()) {
        Stage build = dockerfile.stage(copy.option("from").get());
        String workdir = build.last("WORKDIR").arguments() + "/";
        assertThat(source).startsWith(workdir);
        source = source.substring(workdir.length());
      }
      paths.put(words.get(1), Repository.ROOT.resolve(source).toString());
    }
    for (Volume volume : compose.service("cachesync").volumes()) {
      paths.put(volume.target(), volume.source().toString());
    }
    List<String> command = new ArrayList<>(image.last("ENTRYPOINT").execForm());
    command.addAll(image.last("CMD").execForm());
    List<String> local = new ArrayList<>();
    for (String argument : command) {
      String mapped = argument;
      for (Map.Entry<String, String> path : paths.entrySet()) {
        mapped = mapped.replace(path.getKey(), path.getValue());
      }
      local.add(mapped);
    }
    return local;
  }

  private static int run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getInputStream().transferTo(OutputStream.nullOutputStream());
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      return -1;
    }
    return process.exitValue();
  }

  private static String show(PostgresServer postgres, String database, String setting)
      throws Exception {
    try (var connection = postgres.connect(database);
        Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery("SHOW " + setting)) {
      result.next();
      return result.getString(1);
    }
  }

  private <T extends AutoCloseable> T started(T server) {
    started.add(server);
    return server;
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
