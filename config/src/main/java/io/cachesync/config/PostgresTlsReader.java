package io.cachesync.config;

import io.cachesync.config.PostgresTls.SslMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Optional;

/**
 * Reads the TLS keys of the {@code postgres} section ({@code sslmode}, {@code sslrootcert}, {@code
 * sslcert}, {@code sslkey}) and checks what can be checked without the server: each file exists,
 * can be read and holds what it should, the client key is private to its owner and belongs to the
 * certificate, and the keys make sense together.
 */
final class PostgresTlsReader {
  private final Section section;
  private final Path directory;
  private boolean valid = true;

  private PostgresTlsReader(Section section, Path directory) {
    this.section = section;
    this.directory = directory;
  }

  /**
   * @param directory the folder of synchronizer.yml, which relative paths start from; null for the
   *     working directory
   */
  static Optional<PostgresTls> read(Section section, Path directory) {
    return new PostgresTlsReader(section, directory).read();
  }

  private Optional<PostgresTls> read() {
    Optional<SslMode> mode =
        section.has("sslmode")
            ? section.choice("sslmode", SslMode.values(), SslMode::configName)
            : Optional.of(SslMode.PREFER);
    valid &= mode.isPresent();
    Optional<String> rootText = section.text("sslrootcert");
    boolean systemRoots = rootText.filter(PostgresTls.SYSTEM_ROOTS::equals).isPresent();
    Optional<Path> root =
        systemRoots ? Optional.empty() : file("sslrootcert", rootText).filter(this::certificates);
    Optional<Path> certificate = file("sslcert", section.text("sslcert"));
    Optional<X509Certificate> leaf = certificate.flatMap(this::leaf);
    Optional<Path> key = file("sslkey", section.text("sslkey"));
    Optional<PrivateKey> privateKey = key.filter(this::privateToOwner).flatMap(this::privateKey);
    if (section.has("sslcert") && !section.has("sslkey")) {
      problem("sslcert", "a client certificate needs its private key: set postgres.sslkey too");
    }
    if (section.has("sslkey") && !section.has("sslcert")) {
      problem("sslkey", "a private key needs its client certificate: set postgres.sslcert too");
    }
    if (leaf.isPresent()
        && privateKey.isPresent()
        && !PemReader.belongTogether(privateKey.get(), leaf.get())) {
      problem(
          "sslkey",
          "the key in "
              + key.get()
              + " does not belong to the certificate in postgres.sslcert ("
              + certificate.get()
              + "); name the key of that certificate");
    }
    mode.ifPresent(m -> checkMode(m, systemRoots));
    // A value that could not be read (a problem is recorded) leaves its key unset here.
    valid &= section.has("sslrootcert") == (systemRoots || root.isPresent());
    valid &= section.has("sslcert") == leaf.isPresent();
    valid &= section.has("sslkey") == privateKey.isPresent();
    if (!valid) {
      return Optional.empty();
    }
    return Optional.of(new PostgresTls(mode.get(), root, systemRoots, certificate, key));
  }

  private void checkMode(SslMode mode, boolean systemRoots) {
    String modeText =
        "'" + mode.configName() + "'" + (section.has("sslmode") ? "" : " (the default)");
    if (mode.verifiesCertificate() && !section.has("sslrootcert")) {
      problem(
          "sslmode",
          mode.configName()
              + " checks the server's certificate against postgres.sslrootcert, which is not set:"
              + " set it to the file of the CA certificate (PEM) that signed the server's"
              + " certificate, or to 'system' for the CAs the Java runtime trusts (with"
              + " verify-full)");
    }
    if (section.has("sslrootcert") && !mode.verifiesCertificate()) {
      problem(
          "sslrootcert",
          "is used only with sslmode verify-ca or verify-full, and sslmode is "
              + modeText
              + ", which does not check the server's certificate: set postgres.sslmode:"
              + " verify-full (or verify-ca), or remove sslrootcert");
    }
    if (mode == SslMode.VERIFY_CA && systemRoots) {
      problem(
          "sslrootcert",
          "'system' trusts every certificate that any CA trusted by the Java runtime signed, for"
              + " any host name; use it with sslmode: verify-full, which checks the name too");
    }
    if (mode == SslMode.DISABLE && section.has("sslcert")) {
      problem(
          "sslcert",
          "a client certificate is sent only over TLS, and sslmode is 'disable': set"
              + " postgres.sslmode: verify-full (or require), or remove sslcert and sslkey");
    }
  }

  /** The file a key names, resolved against the configuration's folder, if it can be read. */
  private Optional<Path> file(String key, Optional<String> text) {
    if (text.isEmpty()) {
      return Optional.empty();
    }
    Path written;
    try {
      written = Path.of(text.get());
    } catch (InvalidPathException e) {
      problem(key, "'" + text.get() + "' is not a file path: " + e.getReason());
      return Optional.empty();
    }
    Path file = ConfigurationLoader.resolve(directory, written).toAbsolutePath().normalize();
    if (!Files.exists(file)) {
      problem(key, "file " + written + " does not exist (looked for " + file + ")");
      return Optional.empty();
    }
    if (!Files.isRegularFile(file)) {
      problem(key, file + " is not a file");
      return Optional.empty();
    }
    if (!Files.isReadable(file)) {
      problem(
          key,
          file
              + " cannot be read by user "
              + System.getProperty("user.name")
              + ", whom cachesync runs as; let it read the file");
      return Optional.empty();
    }
    return Optional.of(file);
  }

  private boolean certificates(Path file) {
    try {
      PemReader.certificates(file);
      return true;
    } catch (IOException e) {
      problem("sslrootcert", "cannot read " + file + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      problem("sslrootcert", e.getMessage());
    }
    return false;
  }

  private Optional<X509Certificate> leaf(Path file) {
    try {
      return Optional.of(PemReader.certificates(file).get(0));
    } catch (IOException e) {
      problem("sslcert", "cannot read " + file + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      problem("sslcert", e.getMessage());
    }
    return Optional.empty();
  }

  private boolean privateToOwner(Path file) {
    try {
      Optional<String> problem = PemReader.permissionProblem(file);
      problem.ifPresent(text -> problem("sslkey", text));
      return problem.isEmpty();
    } catch (IOException e) {
      problem("sslkey", "cannot read the permissions of " + file + ": " + e.getMessage());
      return false;
    }
  }

  private Optional<PrivateKey> privateKey(Path file) {
    try {
      return Optional.of(PemReader.privateKey(file));
    } catch (IOException e) {
      problem("sslkey", "cannot read " + file + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      problem("sslkey", e.getMessage());
    }
    return Optional.empty();
  }

  private void problem(String key, String message) {
    section.problem(key, message);
    valid = false;
  }
}
