package io.cachesync.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Throwaway certificate authorities and the certificates they sign, made with the installed {@code
 * openssl} in a temporary folder: for servers started with TLS and for the clients that connect to
 * them. Keys are unencrypted PEM (PKCS #8, OpenSSL 3's default), readable by everyone so that a
 * server running as another user (PostgreSQL as {@code postgres}) can be given a copy; a server
 * that insists on a private key file gets one through {@link Issued#copyKeyFor}.
 */
public final class TestCertificates {
  private static final int DAYS = 2;

  private TestCertificates() {}

  /** A certificate and its key, as PEM files; {@code derKey} is the key as PKCS #8 DER. */
  public record Issued(Path certificate, Path key, Path derKey) {
    /**
     * Copies the key into {@code directory} as a file only its owner may read, owned by {@code
     * osUser} when that is not the current user (PostgreSQL refuses a key others can read).
     */
    public Path copyKeyFor(Path directory, String osUser) {
      try {
        Path copy = directory.resolve(key.getFileName());
        Files.copy(key, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-------"));
        if (!osUser.equals(System.getProperty("user.name"))) {
          run(directory, List.of("chown", osUser, copy.toString()));
        }
        return copy;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** A certificate authority: its own certificate signs what {@link #issue} makes. */
  public static final class Authority {
    private final Path directory;
    private final Issued self;
    private int serial;

    private Authority(Path directory, Issued self) {
      this.directory = directory;
      this.self = self;
    }

    /** The authority's certificate, the file a client trusts. */
    public Path certificate() {
      return self.certificate();
    }

    /** The folder the authority's files are in. */
    public Path directory() {
      return directory;
    }

    /**
     * A certificate for a server reached as {@code names} (DNS names, or IP addresses written as
     * such), its common name the first of them.
     */
    public Issued server(String fileName, String... names) {
      List<String> alternatives = new ArrayList<>();
      for (String name : names) {
        alternatives.add((name.matches("[0-9.]+") || name.contains(":") ? "IP:" : "DNS:") + name);
      }
      return issue(
          fileName,
          names[0],
          "subjectAltName=" + String.join(",", alternatives) + "\nextendedKeyUsage=serverAuth\n");
    }

    /** A client certificate whose common name is {@code commonName} (PostgreSQL: the role). */
    public Issued client(String fileName, String commonName) {
      return issue(fileName, commonName, "extendedKeyUsage=clientAuth\n");
    }

    private synchronized Issued issue(String fileName, String commonName, String extensions) {
      try {
        Path key = directory.resolve(fileName + ".key");
        Path request = directory.resolve(fileName + ".csr");
        Path certificate = directory.resolve(fileName + ".crt");
        Path extensionFile = directory.resolve(fileName + ".ext");
        Files.writeString(
            extensionFile, "basicConstraints=CA:FALSE\n" + extensions, StandardCharsets.UTF_8);
        newKey(directory, key);
        run(
            directory,
            List.of(
                "openssl",
                "req",
                "-new",
                "-key",
                key.toString(),
                "-subj",
                "/CN=" + commonName,
                "-out",
                request.toString()));
        run(
            directory,
            List.of(
                "openssl",
                "x509",
                "-req",
                "-in",
                request.toString(),
                "-CA",
                self.certificate().toString(),
                "-CAkey",
                self.key().toString(),
                "-set_serial",
                Integer.toString(++serial + 1),
                "-days",
                Integer.toString(DAYS),
                "-sha256",
                "-extfile",
                extensionFile.toString(),
                "-out",
                certificate.toString()));
        return new Issued(certificate, key, derKey(directory, key));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** A new authority named {@code name}, in a new temporary folder. */
  public static Authority authority(String name) {
    try {
      Path directory = Files.createTempDirectory("cachesync-ca-");
      Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
      Path key = directory.resolve("ca.key");
      Path certificate = directory.resolve("ca.crt");
      newKey(directory, key);
      run(
          directory,
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
              Integer.toString(DAYS),
              "-sha256",
              "-addext",
              "basicConstraints=critical,CA:TRUE",
              "-addext",
              "keyUsage=critical,keyCertSign,cRLSign",
              "-out",
              certificate.toString()));
      return new Authority(directory, new Issued(certificate, key, derKey(directory, key)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void newKey(Path directory, Path key) throws IOException {
    run(
        directory,
        List.of(
            "openssl",
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key.toString()));
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
  }

  private static Path derKey(Path directory, Path key) {
    Path der = directory.resolve(key.getFileName().toString().replace(".key", ".pk8"));
    run(
        directory,
        List.of(
            "openssl",
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            key.toString(),
            "-outform",
            "DER",
            "-out",
            der.toString()));
    return der;
  }

  private static void run(Path directory, List<String> command) {
    try {
      Process process =
          new ProcessBuilder(command)
              .directory(directory.toFile())
              .redirectErrorStream(true)
              .start();
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
