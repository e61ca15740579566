package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.cachesync.config.PostgresTls.SslMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The TLS keys of the postgres section against real certificates and keys, made with the installed
 * {@code openssl} in every form it writes them.
 */
class PostgresTlsSettingsTest {
  @TempDir Path directory;

  @Test
  void load_verifyFullWithClientCertificate_resolvesEveryPathAgainstTheFilesFolder()
      throws Exception {
    Path certs = Files.createDirectories(directory.resolve("certs"));
    selfSigned(certs, "ca", "ec");
    selfSigned(certs, "client", "ec");
    Path config =
        settings(
            "  sslmode: verify-full\n"
                + "  sslrootcert: certs/ca.crt\n"
                + "  sslcert: certs/client.crt\n"
                + "  sslkey: certs/client.key\n");

    PostgresSettings postgres =
        new ConfigurationLoader(Map.of()).load(config).settings().postgres();

    Path absolute = certs.toAbsolutePath();
    assertThat(postgres.tls())
        .isEqualTo(
            new PostgresTls(
                SslMode.VERIFY_FULL,
                Optional.of(absolute.resolve("ca.crt")),
                false,
                Optional.of(absolute.resolve("client.crt")),
                Optional.of(absolute.resolve("client.key"))));
    assertThat(postgres.toString()).contains("tls=sslmode verify-full, CAs in " + absolute);
  }

  @Test
  void load_noTlsKeys_prefersTlsAndChecksNothing() throws Exception {
    PostgresSettings postgres =
        new ConfigurationLoader(Map.of()).load(settings("")).settings().postgres();

    assertThat(postgres.tls()).isEqualTo(PostgresTls.DEFAULT);
    assertThat(postgres.tls().sslmode().configName()).isEqualTo("prefer");
  }

  @Test
  void load_systemRootsWithVerifyFull_trustsTheJavaRuntimesCas() throws Exception {
    PostgresSettings postgres =
        new ConfigurationLoader(Map.of())
            .load(settings("  sslmode: verify-full\n  sslrootcert: system\n"))
            .settings()
            .postgres();

    assertThat(postgres.tls().systemRoots()).isTrue();
    assertThat(postgres.tls().sslrootcert()).isEmpty();
  }

  static Stream<Arguments> keyForms() {
    return Stream.of(
        Arguments.of("EC, PKCS #8 PEM (OpenSSL 3's default)", "ec", List.of(), "BEGIN PRIVATE KEY"),
        Arguments.of("RSA, PKCS #8 PEM", "rsa", List.of(), "BEGIN PRIVATE KEY"),
        Arguments.of(
            "RSA, PKCS #1 PEM",
            "rsa",
            List.of("openssl", "rsa", "-traditional", "-in", "IN", "-out", "OUT"),
            "BEGIN RSA PRIVATE KEY"),
        Arguments.of(
            "EC, SEC 1 PEM",
            "ec",
            List.of("openssl", "ec", "-in", "IN", "-out", "OUT"),
            "BEGIN EC PRIVATE KEY"),
        Arguments.of("Ed25519, PKCS #8 PEM", "ed25519", List.of(), "BEGIN PRIVATE KEY"),
        Arguments.of(
            "EC, PKCS #8 DER (pgjdbc's .pk8)",
            "ec",
            List.of(
                "openssl",
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "IN",
                "-outform",
                "DER",
                "-out",
                "OUT"),
            ""));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("keyForms")
  void privateKey_eachFormOpensslWrites_isReadAndBelongsToItsCertificate(
      String form, String algorithm, List<String> convert, String header) throws Exception {
    selfSigned(directory, "client", algorithm);
    Path key = directory.resolve("client.key");
    if (!convert.isEmpty()) {
      Path converted = directory.resolve("converted.key");
      openssl(
          convert.stream()
              .map(part -> part.equals("IN") ? key.toString() : part)
              .map(part -> part.equals("OUT") ? converted.toString() : part)
              .toList());
      Files.move(converted, key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    assertThat(new String(Files.readAllBytes(key), StandardCharsets.ISO_8859_1)).contains(header);

    PrivateKey read = PemReader.privateKey(key);

    assertThat(
            PemReader.belongTogether(
                read, PemReader.certificates(directory.resolve("client.crt")).get(0)))
        .isTrue();
  }

  @Test
  void belongTogether_keyOfAnotherCertificate_isFalse() throws Exception {
    selfSigned(directory, "one", "ec");
    selfSigned(directory, "two", "ec");

    assertThat(
            PemReader.belongTogether(
                PemReader.privateKey(directory.resolve("one.key")),
                PemReader.certificates(directory.resolve("two.crt")).get(0)))
        .isFalse();
  }

  @Test
  void load_encryptedPkcs8Key_namesTheCommandThatWritesAnUnencryptedCopy() throws Exception {
    selfSigned(directory, "client", "ec");
    Path key = directory.resolve("client.key");
    Path encrypted = directory.resolve("encrypted.key");
    openssl(
        List.of(
            "openssl",
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:Secret-1",
            "-in",
            key.toString(),
            "-out",
            encrypted.toString()));
    owned(encrypted);

    assertThat(problems("  sslmode: require\n  sslcert: client.crt\n  sslkey: encrypted.key\n"))
        .containsExactly(
            "postgres.sslkey: "
                + encrypted.toAbsolutePath()
                + " is encrypted with a passphrase, which cachesync cannot give; write an"
                + " unencrypted copy that only its owner may read and name that one: (umask 077;"
                + " openssl pkey -in "
                + encrypted.toAbsolutePath()
                + " -out "
                + encrypted.toAbsolutePath()
                + ".plain)");
  }

  @Test
  void load_encryptedPkcs1Key_isRecognisedAsEncrypted() throws Exception {
    selfSigned(directory, "client", "rsa");
    Path encrypted = directory.resolve("encrypted.key");
    openssl(
        List.of(
            "openssl",
            "rsa",
            "-traditional",
            "-aes256",
            "-passout",
            "pass:Secret-1",
            "-in",
            directory.resolve("client.key").toString(),
            "-out",
            encrypted.toString()));
    owned(encrypted);
    assertThat(Files.readString(encrypted)).contains("Proc-Type: 4,ENCRYPTED");

    assertThat(problems("  sslmode: require\n  sslcert: client.crt\n  sslkey: encrypted.key\n"))
        .singleElement()
        .asString()
        .contains("is encrypted with a passphrase")
        .contains("openssl pkey -in " + encrypted.toAbsolutePath());
  }

  @Test
  void load_keyOthersMayRead_isRefusedAsLibpqRefusesIt() throws Exception {
    selfSigned(directory, "client", "ec");
    Path key = directory.resolve("client.key");
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));

    assertThat(problems("  sslmode: require\n  sslcert: client.crt\n  sslkey: client.key\n"))
        .singleElement()
        .asString()
        .startsWith("postgres.sslkey: " + key.toAbsolutePath() + " may be used by other users")
        .contains("(rw-r--r--)")
        .contains("chmod 600 " + key.toAbsolutePath());
  }

  @Test
  void load_keyOfAnotherCertificate_namesBothFiles() throws Exception {
    selfSigned(directory, "one", "ec");
    selfSigned(directory, "two", "ec");

    assertThat(problems("  sslmode: require\n  sslcert: two.crt\n  sslkey: one.key\n"))
        .containsExactly(
            "postgres.sslkey: the key in "
                + directory.resolve("one.key").toAbsolutePath()
                + " does not belong to the certificate in postgres.sslcert ("
                + directory.resolve("two.crt").toAbsolutePath()
                + "); name the key of that certificate");
  }

  @Test
  void load_clientCertificateWithSslmodeDisable_isAProblem() throws Exception {
    selfSigned(directory, "client", "ec");

    assertThat(problems("  sslmode: disable\n  sslcert: client.crt\n  sslkey: client.key\n"))
        .containsExactly(
            "postgres.sslcert: a client certificate is sent only over TLS, and sslmode is"
                + " 'disable': set postgres.sslmode: verify-full (or require), or remove sslcert"
                + " and sslkey");
  }

  @Test
  void load_fileThatIsNoKey_saysWhatFormsAreRead() throws Exception {
    selfSigned(directory, "client", "ec");
    Path key = directory.resolve("client.key");
    Files.writeString(key, "not a key\n");

    assertThat(problems("  sslmode: require\n  sslcert: client.crt\n  sslkey: client.key\n"))
        .containsExactly(
            "postgres.sslkey: "
                + key.toAbsolutePath()
                + " holds no private key; expected PEM (-----BEGIN PRIVATE KEY-----, BEGIN RSA"
                + " PRIVATE KEY or BEGIN EC PRIVATE KEY) or PKCS #8 DER");
  }

  /** The problems of a configuration with this TLS body, without file and location. */
  private List<String> problems(String tls) throws IOException {
    Path config = settings(tls);
    ConfigurationException failure =
        catchThrowableOfType(
            ConfigurationException.class, () -> new ConfigurationLoader(Map.of()).load(config));
    assertThat(failure).as("a configuration problem").isNotNull();
    return failure.problems().stream().map(p -> p.path() + ": " + p.message()).toList();
  }

  private Path settings(String tls) throws IOException {
    Files.writeString(
        directory.resolve("mapping.yml"),
        "tables:\n  - table: public.users\n    key: \"user:{id}\"\n");
    Path config = directory.resolve("synchronizer.yml");
    Files.writeString(config, "name: shop\npostgres:\n  database: shop\n  user: cachesync\n" + tls);
    return config;
  }

  /**
   * A key of the algorithm ({@code ec}, {@code rsa}, {@code ed25519}) in {@code NAME.key}, only its
   * owner may read, and a certificate for it signed by itself in {@code NAME.crt}.
   */
  private static void selfSigned(Path folder, String name, String algorithm) throws IOException {
    Path key = folder.resolve(name + ".key");
    List<String> generate = new ArrayList<>(List.of("openssl", "genpkey", "-algorithm"));
    switch (algorithm) {
      case "ec" -> generate.addAll(List.of("EC", "-pkeyopt", "ec_paramgen_curve:P-256"));
      case "rsa" -> generate.addAll(List.of("RSA", "-pkeyopt", "rsa_keygen_bits:2048"));
      default -> generate.add(algorithm);
    }
    generate.addAll(List.of("-out", key.toString()));
    openssl(generate);
    owned(key);
    openssl(
        List.of(
            "openssl",
            "req",
            "-x509",
            "-new",
            "-key",
            key.toString(),
            "-subj",
            "/CN=" + name,
            "-days",
            "2",
            "-out",
            folder.resolve(name + ".crt").toString()));
  }

  private static void owned(Path key) throws IOException {
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
  }

  private static void openssl(List<String> command) throws IOException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
