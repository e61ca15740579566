package io.cachesync.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Reads {@code synchronizer.yml}: the synchronizer's name and how to reach its servers. */
final class SettingsReader {
  static final List<String> ROOT_KEYS = List.of("name", "postgres", "redis", "mapping", "http");
  static final List<String> POSTGRES_KEYS =
      List.of(
          "host",
          "port",
          "database",
          "user",
          "password",
          "passwordFile",
          "sslmode",
          "sslrootcert",
          "sslcert",
          "sslkey");
  static final List<String> REDIS_KEYS = List.of("uri", "waitReplicas", "passwordFile", "tls");
  static final List<String> REDIS_TLS_KEYS = List.of("caFile", "certFile", "keyFile", "verify");
  static final List<String> HTTP_KEYS =
      List.of("host", "port", "readyLagSeconds", "stallDeadlineSeconds");

  private SettingsReader() {}

  /**
   * What was read: the settings when they are complete and valid, and the mapping file's name (with
   * where it is written) whenever that much could be read, so that the mapping file is checked even
   * when the settings have problems of their own.
   */
  record Result(
      Optional<SynchronizerSettings> settings,
      Optional<Path> mapping,
      YamlNode.Location mappingLocation) {
    static final Result NOTHING =
        new Result(Optional.empty(), Optional.empty(), YamlNode.Location.START);
  }

  /**
   * Reads the file, with {@code mapping} still relative to the file's directory; the files of
   * {@code redis.tls} are resolved against it and checked.
   */
  static Result read(Path file, String displayName, Problems problems, Interpolator interpolator) {
    int before = problems.size();
    Optional<YamlNode> root = YamlDocument.read(file, displayName, problems);
    if (root.isEmpty()) {
      return Result.NOTHING;
    }
    if (root.get() instanceof YamlNode.Null) {
      problems.add(
          displayName,
          null,
          "",
          "the file is empty; it needs at least name and postgres (see README)");
      return Result.NOTHING;
    }
    Section.Source source = new Section.Source(displayName, problems, interpolator);
    Optional<Section> document = Section.open(source, "", root.get(), ROOT_KEYS);
    if (document.isEmpty()) {
      return Result.NOTHING;
    }
    Section section = document.get();
    Optional<String> name =
        section
            .requiredText("name", "name: shop")
            .flatMap(n -> section.convert("name", n, SynchronizerSettings::checkName));
    section.requireKey("postgres", "postgres: {database: shop, user: cachesync}");
    Optional<PostgresSettings> postgres =
        section
            .section("postgres", POSTGRES_KEYS)
            .flatMap(body -> postgres(body, file.getParent()));
    Optional<RedisSettings> redis =
        section
            .section("redis", REDIS_KEYS)
            .map(redisSection -> redis(redisSection, file.getParent()))
            .orElse(Optional.of(new RedisSettings(RedisSettings.DEFAULT_URI)));
    Optional<Path> mapping =
        section.has("mapping")
            ? section.value("mapping", SettingsReader::path)
            : Optional.of(Path.of(SynchronizerSettings.DEFAULT_MAPPING));
    YamlNode.Location mappingLocation = section.locationOf("mapping");
    Optional<HttpSettings> http = http(section);
    if (problems.size() != before
        || name.isEmpty()
        || postgres.isEmpty()
        || redis.isEmpty()
        || http.isEmpty()) {
      return new Result(Optional.empty(), mapping, mappingLocation);
    }
    return new Result(
        Optional.of(
            new SynchronizerSettings(
                name.get(), postgres.get(), redis.get(), mapping.get(), http.get())),
        mapping,
        mappingLocation);
  }

  /**
   * @param directory the folder of synchronizer.yml, where relative paths start
   */
  private static Optional<PostgresSettings> postgres(Section section, Path directory) {
    String host = section.text("host").orElse(PostgresSettings.DEFAULT_HOST);
    int port = section.integer("port", 1, 65_535).orElse(PostgresSettings.DEFAULT_PORT);
    Optional<String> database = section.requiredText("database", "database: shop");
    Optional<String> user = section.requiredText("user", "user: cachesync");
    // An empty password (e.g. ${PGPASSWORD:-}) means none, as for libpq.
    Optional<String> password = section.secretText("password").filter(p -> !p.isEmpty());
    boolean passwordRead = true;
    if (section.has("passwordFile")) {
      if (password.isPresent()) {
        section.problem(
            "passwordFile",
            "postgres.password is set too; keep one of them (passwordFile for a secret mounted as"
                + " a file, password for ${VAR})");
      }
      password = SecretFile.read(section, "passwordFile", directory);
      passwordRead = password.isPresent();
    }
    Optional<PostgresTls> tls = PostgresTlsReader.read(section, directory);
    if (database.isEmpty() || user.isEmpty() || tls.isEmpty() || !passwordRead) {
      return Optional.empty();
    }
    return Optional.of(
        new PostgresSettings(host, port, database.get(), user.get(), password, tls.get()));
  }

  /**
   * The {@code http} section: absent means the default endpoint, {@code off} (or {@code false})
   * none.
   */
  private static Optional<HttpSettings> http(Section document) {
    if (!document.has("http")) {
      return Optional.of(HttpSettings.DEFAULT);
    }
    if (document.isScalar("http")) {
      return document.value(
          "http",
          text -> {
            if (text.equals("off") || text.equals("false")) {
              return HttpSettings.OFF;
            }
            throw new IllegalArgumentException(
                "'"
                    + text
                    + "' is not an http setting: write 'http: off' to turn the endpoint off, or"
                    + " a section such as 'http: {host: 127.0.0.1, port: 9464}'");
          });
    }
    return document.section("http", HTTP_KEYS).flatMap(SettingsReader::httpSection);
  }

  private static Optional<HttpSettings> httpSection(Section section) {
    String host = section.text("host").orElse(HttpSettings.DEFAULT_HOST);
    Optional<Integer> port =
        section.has("port")
            ? section.integer("port", 0, 65_535)
            : Optional.of(HttpSettings.DEFAULT_PORT);
    Optional<Integer> readyLag =
        section.has("readyLagSeconds")
            ? section.integer("readyLagSeconds", 1, 86_400)
            : Optional.of((int) HttpSettings.DEFAULT_READY_LAG.toSeconds());
    Optional<Integer> stall =
        section.has("stallDeadlineSeconds")
            ? section.integer("stallDeadlineSeconds", 10, 86_400)
            : Optional.of((int) HttpSettings.DEFAULT_STALL_DEADLINE.toSeconds());
    if (port.isEmpty() || readyLag.isEmpty() || stall.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new HttpSettings(
            true,
            host,
            port.get(),
            Duration.ofSeconds(readyLag.get()),
            Duration.ofSeconds(stall.get())));
  }

  private static Path path(String text) {
    try {
      return Path.of(text);
    } catch (java.nio.file.InvalidPathException e) {
      throw new IllegalArgumentException("'" + text + "' is not a file path: " + e.getReason());
    }
  }

  private static Optional<RedisSettings> redis(Section section, Path directory) {
    Optional<String> uri =
        section.has("uri")
            ? section.secretValue("uri", text -> new RedisSettings(text).uri())
            : Optional.of(RedisSettings.DEFAULT_URI);
    if (section.has("passwordFile")) {
      Optional<String> password = SecretFile.read(section, "passwordFile", directory);
      uri =
          uri.isEmpty() || password.isEmpty()
              ? Optional.empty()
              : section.convert(
                  "passwordFile",
                  uri.get(),
                  text -> RedisSettings.withPassword(text, password.get()));
    }
    Optional<Integer> waitReplicas =
        section.has("waitReplicas")
            ? section.integer("waitReplicas", 0, RedisSettings.MAX_WAIT_REPLICAS)
            : Optional.of(0);
    Optional<RedisTlsSettings> tls =
        section.has("tls")
            ? section.section("tls", REDIS_TLS_KEYS).flatMap(t -> redisTls(t, directory))
            : Optional.of(RedisTlsSettings.DEFAULT);
    if (uri.isPresent() && section.has("tls") && !RedisSettings.usesTls(uri.get())) {
      section.problem("tls", RedisSettings.tlsWithoutTlsUri(uri.get()));
      return Optional.empty();
    }
    if (uri.isEmpty() || waitReplicas.isEmpty() || tls.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new RedisSettings(uri.get(), waitReplicas.get(), tls.get()));
  }

  /** The {@code redis.tls} section, its files resolved against {@code directory} and checked. */
  private static Optional<RedisTlsSettings> redisTls(Section section, Path directory) {
    Optional<Path> caFile = pemFile(section, "caFile", directory, PemFiles::checkCertificates);
    Optional<Path> certFile = pemFile(section, "certFile", directory, PemFiles::checkCertificates);
    Optional<Path> keyFile = pemFile(section, "keyFile", directory, PemFiles::checkPrivateKey);
    // Warned about, not refused as postgres.sslkey is (libpq's rule): a key others may read is
    // still used, as a password file others may read is.
    keyFile.ifPresent(file -> warnIfOthersMayRead(section, "keyFile", file));
    Optional<RedisTlsSettings.Verify> verify =
        section.has("verify")
            ? section.value("verify", SettingsReader::verify)
            : Optional.of(RedisTlsSettings.Verify.FULL);
    boolean complete = true;
    if (section.has("certFile") != section.has("keyFile")) {
      String missing = section.has("certFile") ? "keyFile" : "certFile";
      String given = section.has("certFile") ? "certFile" : "keyFile";
      section.problem(
          given,
          given
              + " is set without "
              + missing
              + "; a client certificate (mutual TLS) needs both certFile (its PEM certificate)"
              + " and keyFile (its PEM private key)");
      complete = false;
    }
    if (!complete
        || verify.isEmpty()
        || section.has("caFile") && caFile.isEmpty()
        || section.has("certFile") && certFile.isEmpty()
        || section.has("keyFile") && keyFile.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new RedisTlsSettings(caFile, certFile, keyFile, verify.get()));
  }

  private static RedisTlsSettings.Verify verify(String text) {
    for (RedisTlsSettings.Verify verify : RedisTlsSettings.Verify.values()) {
      if (verify.configName().equals(text)) {
        return verify;
      }
    }
    throw new IllegalArgumentException(
        "'"
            + text
            + "' is not one of full, ca (full checks that a trusted CA issued the server's"
            + " certificate and that it names the host connected to; ca skips the host name; no"
            + " mode skips the CA, or TLS would not tell the server from an impostor)");
  }

  /**
   * A file named by {@code key}, relative to the directory of synchronizer.yml as {@code mapping}
   * is, that exists, can be read and passes {@code check}; empty (with a problem) otherwise, and
   * when the key is absent.
   */
  private static void warnIfOthersMayRead(Section section, String key, Path file) {
    try {
      PemReader.permissionProblem(file).ifPresent(problem -> section.warning(key, problem));
    } catch (java.io.IOException e) {
      section.warning(key, "cannot read the permissions of " + file + ": " + e.getMessage());
    }
  }

  private static Optional<Path> pemFile(
      Section section, String key, Path directory, PemFiles.Check check) {
    return section
        .value(key, SettingsReader::path)
        .map(name -> ConfigurationLoader.resolve(directory, name))
        .map(Path::normalize)
        .flatMap(
            file -> {
              try {
                check.check(file);
                return Optional.of(file);
              } catch (PemFiles.UnusableFileException e) {
                section.problem(key, e.getMessage());
                return Optional.empty();
              }
            });
  }
}
