package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A PostgreSQL server run from the installed binaries: {@code initdb} into a temporary folder,
 * started with {@code pg_ctl} on a free port. {@code initdb} and {@code postgres} refuse to run as
 * root, so as root they run as the {@code postgres} user through {@code runuser}.
 */
final class LocalPostgres implements PostgresServer {
  private static final boolean ROOT = "root".equals(System.getProperty("user.name"));
  private static final String OS_USER = "postgres";

  private final Path binaries;
  private final Path directory;
  private final Path data;
  private int port;

  private LocalPostgres(Path binaries, Path directory) {
    this.binaries = binaries;
    this.directory = directory;
    this.data = directory.resolve("data");
  }

  static LocalPostgres create(Path binaries, Map<String, String> settings) {
    return create(binaries, settings, Optional.empty());
  }

  /**
   * @param tls when present, the server serves TLS only (see {@link ServerTls})
   */
  static LocalPostgres create(
      Path binaries, Map<String, String> settings, Optional<ServerTls> tls) {
    try {
      Path directory = Files.createTempDirectory("cachesync-pg-");
      LocalPostgres server = new LocalPostgres(binaries, directory);
      Cleanup.register(server);
      server.initialize(settings, tls);
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void initialize(Map<String, String> settings, Optional<ServerTls> tls)
      throws IOException {
    chown(directory);
    run(
        List.of(
            binaries.resolve("initdb").toString(),
            "-D",
            data.toString(),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions"));
    Files.writeString(
        data.resolve("pg_hba.conf"),
        tls.isPresent()
            ? String.join(
                "\n",
                "local all all trust",
                "hostssl all " + ServerTls.CERT_ROLE + " 127.0.0.1/32 cert",
                "hostssl replication " + ServerTls.CERT_ROLE + " 127.0.0.1/32 cert",
                "hostssl all " + PASSWORD_ROLE + " 127.0.0.1/32 scram-sha-256",
                "hostssl replication " + PASSWORD_ROLE + " 127.0.0.1/32 scram-sha-256",
                "hostssl all all 127.0.0.1/32 trust",
                "hostssl replication all 127.0.0.1/32 trust",
                "")
            : String.join(
                "\n",
                "local all all trust",
                "host all " + PASSWORD_ROLE + " 127.0.0.1/32 scram-sha-256",
                "host replication " + PASSWORD_ROLE + " 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 trust",
                "host replication all 127.0.0.1/32 trust",
                ""),
        StandardCharsets.UTF_8);
    StringBuilder conf = new StringBuilder("\n# cachesync test fixture\n");
    if (tls.isPresent()) {
      Path key = tls.get().certificate().copyKeyFor(directory, ROOT ? OS_USER : currentUser());
      conf.append("ssl = on\n");
      conf.append("ssl_cert_file = '").append(tls.get().certificate().certificate()).append("'\n");
      conf.append("ssl_key_file = '").append(key).append("'\n");
      conf.append("ssl_ca_file = '").append(tls.get().clientCa()).append("'\n");
    }
    conf.append("listen_addresses = '127.0.0.1'\n");
    conf.append("unix_socket_directories = '").append(directory).append("'\n");
    conf.append("include_if_exists = 'port.conf'\n");
    Map<String, String> defaults =
        Map.of(
            "wal_level", "logical",
            "max_replication_slots", "20",
            "max_wal_senders", "20",
            "fsync", "off",
            "full_page_writes", "off",
            "shared_buffers", "64MB",
            "max_connections", "100");
    defaults.forEach(
        (key, value) -> {
          if (!settings.containsKey(key)) {
            conf.append(key).append(" = '").append(value).append("'\n");
          }
        });
    settings.forEach((key, value) -> conf.append(key).append(" = '").append(value).append("'\n"));
    Files.writeString(
        data.resolve("postgresql.conf"),
        conf.toString(),
        StandardCharsets.UTF_8,
        java.nio.file.StandardOpenOption.APPEND);
    chown(data.resolve("pg_hba.conf"));
    startOnFreePort();
    execute(
        "postgres",
        "CREATE ROLE " + PASSWORD_ROLE + " LOGIN PASSWORD '" + PASSWORD_ROLE_PASSWORD + "'");
    if (tls.isPresent()) {
      execute("postgres", "CREATE ROLE " + ServerTls.CERT_ROLE + " LOGIN SUPERUSER");
    }
  }

  private static String currentUser() {
    return System.getProperty("user.name");
  }

  private void startOnFreePort() throws IOException {
    startOnFreePort(
        free -> {
          port = free;
          Path portConf = data.resolve("port.conf");
          Files.writeString(portConf, "port = " + port + "\n", StandardCharsets.UTF_8);
          chown(portConf);
          start();
        });
  }

  /** Starts a server on a port. */
  interface PortStart {
    /**
     * @throws IllegalStateException when the server does not start, e.g. the port was taken
     */
    void on(int port) throws IOException;
  }

  /**
   * Starts a server on a free port, trying another when it does not start: a port found free can be
   * taken by another process before the server binds it.
   */
  static void startOnFreePort(PortStart start) throws IOException {
    IllegalStateException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      try {
        start.on(freePort());
        return;
      } catch (IllegalStateException e) {
        last = e;
      }
    }
    throw last;
  }

  @Override
  public String host() {
    return "127.0.0.1";
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public void start() {
    run(
        List.of(
            binaries.resolve("pg_ctl").toString(),
            "-D",
            data.toString(),
            "-l",
            directory.resolve("server.log").toString(),
            "-w",
            "-t",
            "60",
            "start"));
  }

  @Override
  public void stop() {
    run(
        List.of(
            binaries.resolve("pg_ctl").toString(),
            "-D",
            data.toString(),
            "-m",
            "fast",
            "-w",
            "stop"));
  }

  @Override
  public void close() {
    if (Files.exists(data.resolve("postmaster.pid"))) {
      try {
        run(
            List.of(
                binaries.resolve("pg_ctl").toString(),
                "-D",
                data.toString(),
                "-m",
                "immediate",
                "-w",
                "stop"));
      } catch (IllegalStateException e) {
        // Already stopped: nothing to do but remove the folder.
      }
    }
    Cleanup.delete(directory);
    Cleanup.unregister(this);
  }

  private void run(List<String> command) {
    List<String> full = new ArrayList<>();
    if (ROOT) {
      full.addAll(List.of("runuser", "-u", OS_USER, "--"));
    }
    full.addAll(command);
    ProcessRun run = ProcessRun.of(full, Duration.ofSeconds(120));
    if (!run.ended()) {
      throw new IllegalStateException("timed out: " + String.join(" ", full));
    }
    if (run.exitCode() != 0) {
      String log;
      try {
        log = tail(directory.resolve("server.log"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      throw new IllegalStateException(
          String.join(" ", full)
              + " failed with exit code "
              + run.exitCode()
              + ":\n"
              + run.output()
              + log);
    }
  }

  private static String tail(Path log) throws IOException {
    if (!Files.exists(log)) {
      return "";
    }
    List<String> lines = Files.readAllLines(log);
    return "\nserver.log:\n"
        + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
  }

  private static void chown(Path path) throws IOException {
    if (ROOT) {
      Files.setOwner(
          path,
          path.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(OS_USER));
    }
  }

  static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String toString() {
    return "PostgreSQL at " + host() + ":" + port + " in " + directory;
  }
}
