package io.cachesync.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the certificates and the private key that {@code postgres.sslrootcert}, {@code sslcert} and
 * {@code sslkey} name, as OpenSSL, libpq and {@code psql} use them, into memory only: nothing read
 * is written anywhere, and no message quotes a key's content.
 *
 * <p>Certificates: PEM ({@code BEGIN CERTIFICATE}, other blocks in the file are skipped) or DER.
 * Private keys, unencrypted: PKCS #8 PEM ({@code BEGIN PRIVATE KEY}, OpenSSL 3's default), PKCS #1
 * PEM ({@code BEGIN RSA PRIVATE KEY}), SEC 1 PEM ({@code BEGIN EC PRIVATE KEY}), or PKCS #8 DER
 * (pgjdbc's {@code .pk8}); RSA, EC, Ed25519, Ed448 or DSA.
 */
public final class PemReader {
  private static final Pattern BLOCK =
      Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

  /** The AlgorithmIdentifier of an RSA key: rsaEncryption (1.2.840.113549.1.1.1), NULL. */
  private static final byte[] RSA_ALGORITHM =
      tlv(
          0x30,
          new byte[] {0x06, 0x09, 0x2A, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xF7, 0x0D, 1, 1, 1},
          new byte[] {0x05, 0x00});

  /** The OID of an EC key, id-ecPublicKey (1.2.840.10045.2.1), with its tag and length. */
  private static final byte[] EC_PUBLIC_KEY =
      new byte[] {0x06, 0x07, 0x2A, (byte) 0x86, 0x48, (byte) 0xCE, 0x3D, 0x02, 0x01};

  private static final List<String> KEY_ALGORITHMS =
      List.of("RSA", "EC", "EdDSA", "RSASSA-PSS", "DSA");

  private PemReader() {}

  /**
   * The certificates in a file, in their order there.
   *
   * @throws IllegalArgumentException when it holds none, naming the file and what was expected
   */
  public static List<X509Certificate> certificates(Path file) throws IOException {
    byte[] content = Files.readAllBytes(file);
    String text = new String(content, StandardCharsets.ISO_8859_1);
    boolean pem = text.contains("-----BEGIN ");
    List<byte[]> encoded = new ArrayList<>();
    if (pem) {
      for (Block block : blocks(text)) {
        if (block.label().equals("CERTIFICATE") || block.label().equals("X509 CERTIFICATE")) {
          encoded.add(block.der());
        }
      }
    } else {
      encoded.add(content);
    }
    List<X509Certificate> certificates = new ArrayList<>();
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      for (byte[] der : encoded) {
        certificates.add(
            (X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der)));
      }
    } catch (CertificateException e) {
      if (!pem) {
        throw noCertificate(file);
      }
      throw new IllegalArgumentException(
          file + " holds a certificate that cannot be read (" + e.getMessage() + ")");
    }
    if (certificates.isEmpty()) {
      throw noCertificate(file);
    }
    return List.copyOf(certificates);
  }

  /**
   * The private key in a file.
   *
   * @throws IllegalArgumentException when it holds none that can be read without a passphrase,
   *     naming the file and, for an encrypted key, the command that writes an unencrypted copy
   */
  public static PrivateKey privateKey(Path file) throws IOException {
    byte[] content = Files.readAllBytes(file);
    try {
      String text = new String(content, StandardCharsets.ISO_8859_1);
      if (!text.contains("-----BEGIN ")) {
        return pkcs8(content).orElseThrow(() -> noKey(file));
      }
      for (Block block : blocks(text)) {
        switch (block.label()) {
          case "PRIVATE KEY":
            return pkcs8(block.der()).orElseThrow(() -> unknownAlgorithm(file));
          case "ENCRYPTED PRIVATE KEY":
            throw encrypted(file);
          case "RSA PRIVATE KEY":
            if (block.encrypted()) {
              throw encrypted(file);
            }
            return pkcs8(privateKeyInfo(RSA_ALGORITHM, block.der())).orElseThrow(() -> noKey(file));
          case "EC PRIVATE KEY":
            if (block.encrypted()) {
              throw encrypted(file);
            }
            byte[] curve =
                sec1Curve(block.der())
                    .orElseThrow(
                        () ->
                            new IllegalArgumentException(
                                file + " holds an EC key that does not name its curve"));
            return pkcs8(privateKeyInfo(tlv(0x30, EC_PUBLIC_KEY, curve), block.der()))
                .orElseThrow(() -> noKey(file));
          default:
            // A certificate or parameters next to the key.
        }
      }
      throw noKey(file);
    } finally {
      Arrays.fill(content, (byte) 0);
    }
  }

  /**
   * Why a private key file may not be used, as libpq and pgjdbc decide: anyone but its owner may
   * read it (a file owned by root may be read by its group). Empty when it is fine, or when the
   * file system has no POSIX permissions.
   */
  public static Optional<String> permissionProblem(Path key) throws IOException {
    Set<PosixFilePermission> permissions;
    boolean ownedByRoot;
    try {
      permissions = Files.readAttributes(key, PosixFileAttributes.class).permissions();
      ownedByRoot = Integer.valueOf(0).equals(Files.getAttribute(key, "unix:uid"));
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      return Optional.empty();
    }
    boolean others =
        permissions.contains(PosixFilePermission.OTHERS_READ)
            || permissions.contains(PosixFilePermission.OTHERS_WRITE)
            || permissions.contains(PosixFilePermission.OTHERS_EXECUTE);
    boolean group =
        permissions.contains(PosixFilePermission.GROUP_WRITE)
            || permissions.contains(PosixFilePermission.GROUP_EXECUTE)
            || (!ownedByRoot && permissions.contains(PosixFilePermission.GROUP_READ));
    if (!others && !group) {
      return Optional.empty();
    }
    return Optional.of(
        key
            + " may be used by "
            + (others ? "other users" : "its group")
            + " ("
            + PosixFilePermissions.toString(permissions)
            + "); a private key should be readable by its owner only (libpq refuses any other): chmod 600 "
            + key
            + (ownedByRoot ? " (or 640, as it is owned by root)" : ""));
  }

  /**
   * Whether {@code key} is the private key of {@code certificate}: a probe signed with the one is
   * verified with the other. True for a key of an algorithm this cannot sign with.
   */
  public static boolean belongTogether(PrivateKey key, X509Certificate certificate) {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "EdDSA", "Ed25519", "Ed448" -> "EdDSA";
          case "DSA" -> "SHA256withDSA";
          default -> null;
        };
    if (algorithm == null) {
      return true;
    }
    byte[] probe = "cachesync key probe".getBytes(StandardCharsets.US_ASCII);
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** One PEM block: its label, whether its headers say it is encrypted, and its content. */
  private record Block(String label, boolean encrypted, byte[] der) {}

  private static List<Block> blocks(String text) {
    List<Block> blocks = new ArrayList<>();
    Matcher matcher = BLOCK.matcher(text);
    while (matcher.find()) {
      StringBuilder base64 = new StringBuilder();
      boolean encrypted = false;
      for (String line : matcher.group(2).split("\r?\n")) {
        if (line.contains(":")) {
          // RFC 1421 headers: Proc-Type: 4,ENCRYPTED and DEK-Info of an encrypted legacy key.
          encrypted |= line.startsWith("Proc-Type:") && line.contains("ENCRYPTED");
        } else {
          base64.append(line.strip());
        }
      }
      byte[] der;
      try {
        der = Base64.getDecoder().decode(base64.toString());
      } catch (IllegalArgumentException e) {
        continue;
      }
      blocks.add(new Block(matcher.group(1), encrypted, der));
    }
    return blocks;
  }

  private static Optional<PrivateKey> pkcs8(byte[] der) {
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    try {
      for (String algorithm : KEY_ALGORITHMS) {
        try {
          return Optional.of(KeyFactory.getInstance(algorithm).generatePrivate(spec));
        } catch (GeneralSecurityException | RuntimeException e) {
          // Not a key of this algorithm: try the next.
        }
      }
      return Optional.empty();
    } finally {
      Arrays.fill(der, (byte) 0);
    }
  }

  /** PKCS #8's PrivateKeyInfo: version 0, the algorithm, the key in its algorithm's own form. */
  private static byte[] privateKeyInfo(byte[] algorithm, byte[] key) {
    byte[] info = tlv(0x30, new byte[] {0x02, 0x01, 0x00}, algorithm, tlv(0x04, key));
    Arrays.fill(key, (byte) 0);
    return info;
  }

  /**
   * The named curve of a SEC 1 ECPrivateKey ({@code SEQUENCE { version, privateKey, [0] parameters,
   * [1] publicKey }}), as the OID with its tag and length.
   */
  private static Optional<byte[]> sec1Curve(byte[] der) {
    try {
      Element key = Element.at(der, 0);
      if (key.tag() != 0x30) {
        return Optional.empty();
      }
      for (int at = key.start(); at < key.end(); ) {
        Element field = Element.at(der, at);
        if (field.tag() == 0xA0) {
          Element curve = Element.at(der, field.start());
          return curve.tag() == 0x06
              ? Optional.of(Arrays.copyOfRange(der, field.start(), curve.end()))
              : Optional.empty();
        }
        at = field.end();
      }
      return Optional.empty();
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** One DER element of {@code der}: its tag and where its content starts and ends. */
  private record Element(int tag, int start, int end) {
    static Element at(byte[] der, int at) {
      if (at + 2 > der.length) {
        throw new IllegalArgumentException("truncated");
      }
      int tag = der[at] & 0xFF;
      int length = der[at + 1] & 0xFF;
      int start = at + 2;
      if (length >= 0x80) {
        int octets = length & 0x7F;
        if (octets == 0 || octets > 3 || start + octets > der.length) {
          throw new IllegalArgumentException("bad length");
        }
        length = 0;
        for (int i = 0; i < octets; i++) {
          length = (length << 8) | (der[start + i] & 0xFF);
        }
        start += octets;
      }
      if (start + length > der.length) {
        throw new IllegalArgumentException("truncated");
      }
      return new Element(tag, start, start + length);
    }
  }

  /** A DER element: the tag, the length, then the parts. */
  private static byte[] tlv(int tag, byte[]... parts) {
    int length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    byte[] lengthOctets;
    if (length < 0x80) {
      lengthOctets = new byte[] {(byte) length};
    } else if (length < 0x100) {
      lengthOctets = new byte[] {(byte) 0x81, (byte) length};
    } else if (length < 0x10000) {
      lengthOctets = new byte[] {(byte) 0x82, (byte) (length >> 8), (byte) length};
    } else {
      lengthOctets =
          new byte[] {(byte) 0x83, (byte) (length >> 16), (byte) (length >> 8), (byte) length};
    }
    byte[] element = new byte[1 + lengthOctets.length + length];
    element[0] = (byte) tag;
    System.arraycopy(lengthOctets, 0, element, 1, lengthOctets.length);
    int at = 1 + lengthOctets.length;
    for (byte[] part : parts) {
      System.arraycopy(part, 0, element, at, part.length);
      at += part.length;
    }
    return element;
  }

  private static IllegalArgumentException noCertificate(Path file) {
    return new IllegalArgumentException(
        file + " holds no certificate; expected PEM (-----BEGIN CERTIFICATE-----) or DER");
  }

  private static IllegalArgumentException noKey(Path file) {
    return new IllegalArgumentException(
        file
            + " holds no private key; expected PEM (-----BEGIN PRIVATE KEY-----, BEGIN RSA PRIVATE"
            + " KEY or BEGIN EC PRIVATE KEY) or PKCS #8 DER");
  }

  private static IllegalArgumentException unknownAlgorithm(Path file) {
    return new IllegalArgumentException(
        file
            + " holds a private key that is damaged or of an algorithm other than RSA, EC,"
            + " Ed25519, Ed448 and DSA");
  }

  private static IllegalArgumentException encrypted(Path file) {
    return new IllegalArgumentException(
        file
            + " is encrypted with a passphrase, which cachesync cannot give; write an unencrypted"
            + " copy that only its owner may read and name that one: (umask 077; openssl pkey -in "
            + file
            + " -out "
            + file
            + ".plain)");
  }
}
