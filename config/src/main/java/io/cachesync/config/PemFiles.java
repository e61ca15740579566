package io.cachesync.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks, when the configuration is read, that the PEM files of {@code redis.tls} are there and
 * hold what the Redis client will read from them at each connection: certificates, and an
 * unencrypted PKCS #8 private key. No message quotes a file's contents.
 */
final class PemFiles {
  private static final Pattern BEGIN = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----");
  private static final Pattern PRIVATE_KEY =
      Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

  /** The algorithms of the keys the Redis client's TLS library (Netty) reads. */
  private static final List<String> KEY_ALGORITHMS = List.of("RSA", "EC", "DSA");

  /** A file that cannot serve; the message names the path and the fix. */
  static final class UnusableFileException extends Exception {
    private static final long serialVersionUID = 1L;

    UnusableFileException(String message) {
      super(message);
    }
  }

  /** A check of one file. */
  interface Check {
    void check(Path file) throws UnusableFileException;
  }

  private PemFiles() {}

  /** The file holds one or more PEM certificates (a CA bundle, or a certificate and its chain). */
  static void checkCertificates(Path file) throws UnusableFileException {
    String text = read(file);
    if (!text.contains("-----BEGIN CERTIFICATE-----")) {
      throw new UnusableFileException(
          file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)" + found(text));
    }
    try {
      Collection<? extends Certificate> certificates =
          CertificateFactory.getInstance("X.509")
              .generateCertificates(
                  new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)));
      if (certificates.isEmpty()) {
        throw new UnusableFileException(file + " holds no readable PEM certificate");
      }
    } catch (CertificateException e) {
      throw new UnusableFileException(
          file + " holds a PEM certificate that cannot be read: " + e.getMessage());
    }
  }

  /** The file holds an unencrypted PKCS #8 private key (-----BEGIN PRIVATE KEY-----). */
  static void checkPrivateKey(Path file) throws UnusableFileException {
    String text = read(file);
    Matcher key = PRIVATE_KEY.matcher(text);
    if (!key.find()) {
      String convert =
          "; convert it with: openssl pkcs8 -topk8 -nocrypt -in "
              + file
              + " -out "
              + file
              + ".pk8 (and point keyFile at the new file)";
      if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
        throw new UnusableFileException(
            file + " holds an encrypted private key; cachesync reads unencrypted keys" + convert);
      }
      if (text.contains("-----BEGIN RSA PRIVATE KEY-----")
          || text.contains("-----BEGIN EC PRIVATE KEY-----")) {
        throw new UnusableFileException(
            file
                + " holds a private key in the traditional OpenSSL form; cachesync reads PKCS #8"
                + " (-----BEGIN PRIVATE KEY-----)"
                + convert);
      }
      throw new UnusableFileException(
          file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----)" + found(text));
    }
    byte[] encoded;
    try {
      encoded = Base64.getMimeDecoder().decode(key.group(1).strip());
    } catch (IllegalArgumentException e) {
      throw new UnusableFileException(file + " holds a PEM private key that is not valid base64");
    }
    for (String algorithm : KEY_ALGORITHMS) {
      try {
        KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(encoded));
        return;
      } catch (GeneralSecurityException e) {
        // Try the next algorithm.
      }
    }
    throw new UnusableFileException(
        file + " holds a private key that is neither RSA, EC nor DSA, or is damaged");
  }

  private static String read(Path file) throws UnusableFileException {
    if (!Files.exists(file)) {
      throw new UnusableFileException(
          "file " + file + " does not exist (looked for " + file.toAbsolutePath() + ")");
    }
    if (!Files.isRegularFile(file)) {
      throw new UnusableFileException(file + " is not a file");
    }
    try {
      return Files.readString(file, StandardCharsets.ISO_8859_1);
    } catch (java.nio.file.AccessDeniedException e) {
      throw new UnusableFileException(
          "cannot read "
              + file
              + ": permission denied; make it readable by the user cachesync runs as");
    } catch (IOException e) {
      throw new UnusableFileException(
          "cannot read " + file + " (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** What PEM blocks the file holds instead, by their labels only. */
  private static String found(String text) {
    Matcher begin = BEGIN.matcher(text);
    java.util.Set<String> labels = new java.util.LinkedHashSet<>();
    while (begin.find()) {
      labels.add(begin.group(1));
    }
    return labels.isEmpty()
        ? "; is it a PEM file?"
        : "; it holds " + String.join(", ", labels.stream().map(l -> "'" + l + "'").toList());
  }
}
