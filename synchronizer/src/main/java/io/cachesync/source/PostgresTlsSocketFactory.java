package io.cachesync.source;

import io.cachesync.config.PemReader;
import io.cachesync.config.PostgresTls;
import io.cachesync.config.PostgresTls.SslMode;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.postgresql.ssl.WrappedFactory;

/**
 * The TLS sockets of every connection to PostgreSQL, cachesync's own and Debezium's: pgjdbc creates
 * one per connection ({@code sslfactory}) from the connection's properties, which {@link
 * #driverProperties} wrote from {@code postgres.ssl*}.
 *
 * <p>pgjdbc's own factory reads a client key as PKCS #8 DER, or as PEM only when the file name ends
 * in {@code .key} or {@code .pem} and the key is RSA (its {@code pemKeyAlgorithm}), and falls back
 * to files in {@code ~/.postgresql}. This one reads the key as {@code psql} does (see {@link
 * PemReader}), into memory only, each time a connection is made (a renewed certificate is used on
 * the next connection), and uses no file that the settings do not name. The server's certificate is
 * checked by {@link ServerCertificateCheck}; pgjdbc checks the host name once more after the
 * handshake under {@code verify-full}.
 */
public final class PostgresTlsSocketFactory extends WrappedFactory {

  /**
   * Called by pgjdbc for each connection, with its properties.
   *
   * @throws PostgresTlsException when a file of the settings cannot be used (pgjdbc reports it as
   *     the cause of the connection's failure)
   */
  public PostgresTlsSocketFactory(Properties info)
      throws PostgresTlsException, GeneralSecurityException {
    SslMode mode = mode(info.getProperty("sslmode", ""));
    String root = info.getProperty("sslrootcert");
    boolean systemRoots = PostgresTls.SYSTEM_ROOTS.equals(root);
    TrustManager check =
        ServerCertificateCheck.of(
            mode, root == null || systemRoots ? null : Path.of(root), systemRoots);
    String certificate = info.getProperty("sslcert");
    String key = info.getProperty("sslkey");
    KeyManager[] keyManagers =
        certificate == null || key == null ? null : keyManagers(Path.of(certificate), Path.of(key));
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keyManagers, new TrustManager[] {check}, null);
    factory = context.getSocketFactory();
  }

  /**
   * The pgjdbc connection properties (without Debezium's {@code database.} prefix) that apply these
   * settings, in a stable order: with {@code sslmode} {@code disable} that alone; otherwise this
   * factory and the files it reads.
   */
  public static Map<String, String> driverProperties(PostgresTls tls) {
    Map<String, String> properties = new LinkedHashMap<>();
    properties.put("sslmode", tls.sslmode().configName());
    if (tls.sslmode() == SslMode.DISABLE) {
      return properties;
    }
    properties.put("sslfactory", PostgresTlsSocketFactory.class.getName());
    if (tls.systemRoots()) {
      properties.put("sslrootcert", PostgresTls.SYSTEM_ROOTS);
    }
    tls.sslrootcert().ifPresent(file -> properties.put("sslrootcert", file.toString()));
    tls.sslcert().ifPresent(file -> properties.put("sslcert", file.toString()));
    tls.sslkey().ifPresent(file -> properties.put("sslkey", file.toString()));
    return properties;
  }

  private static SslMode mode(String name) throws PostgresTlsException {
    for (SslMode mode : SslMode.values()) {
      if (mode.configName().equals(name)) {
        return mode;
      }
    }
    throw new PostgresTlsException("sslmode '" + name + "' is not one cachesync knows");
  }

  /** The client certificate and its key, in a key store that lives in memory only. */
  private static KeyManager[] keyManagers(Path certificateFile, Path keyFile)
      throws PostgresTlsException, GeneralSecurityException {
    List<X509Certificate> chain = read("sslcert", certificateFile, PemReader::certificates);
    PrivateKey key = read("sslkey", keyFile, PemReader::privateKey);
    char[] password = new char[32];
    SecureRandom random = new SecureRandom();
    for (int i = 0; i < password.length; i++) {
      password[i] = (char) ('a' + random.nextInt(26));
    }
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("client", key, password, chain.toArray(new X509Certificate[0]));
      KeyManagerFactory factory =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      factory.init(store, password);
      return factory.getKeyManagers();
    } catch (IOException e) {
      throw new GeneralSecurityException(e);
    } finally {
      Arrays.fill(password, '\0');
    }
  }

  /** Reads one of the files: what it holds, or a message naming the setting. */
  private interface Reader<T> {
    T read(Path file) throws IOException;
  }

  private static <T> T read(String setting, Path file, Reader<T> reader)
      throws PostgresTlsException {
    try {
      return reader.read(file);
    } catch (IOException e) {
      throw new PostgresTlsException(
          "postgres." + setting + ": cannot read " + file + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new PostgresTlsException("postgres." + setting + ": " + e.getMessage());
    }
  }
}
