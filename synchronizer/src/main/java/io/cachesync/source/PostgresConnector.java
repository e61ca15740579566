package io.cachesync.source;

import static java.util.Objects.requireNonNull;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.PostgresSettings;
import io.cachesync.config.PostgresTls;
import io.cachesync.config.PostgresTls.SslMode;
import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import javax.net.ssl.SSLException;

/**
 * Opens plain JDBC connections to the configured PostgreSQL database.
 *
 * <p>Where the server is goes to the driver as connection properties ({@code PGHOST}, {@code
 * PGPORT}, {@code PGDBNAME}) under the bare URL {@code jdbc:postgresql:}, never concatenated into
 * the URL: a database named {@code shop?sslmode=disable} is a database name, not a driver property.
 *
 * <p>Every connection gives up on connecting and logging in after {@link Timeouts#login()}, so that
 * a server that accepts the TCP connection and says nothing (a hung server, a black-holed network)
 * fails the call instead of blocking it. A connection for short statements ({@link
 * #openForShortStatements}) also gives up on a reply after {@link Timeouts#statement()}; one for
 * long reads ({@link #open}) has no such limit, see there.
 *
 * <p>Every connection uses TLS as {@code postgres.sslmode} and its files say ({@link
 * PostgresTlsSocketFactory}). A TLS connection that cannot be made because a certificate or a TLS
 * file was refused fails with {@link ServerUnreachableException#tlsFailed}; a server that does not
 * offer TLS when the mode requires it, with {@link TlsNotOfferedException}.
 */
public final class PostgresConnector {

  /**
   * How long a connection waits.
   *
   * @param connect for the TCP connection to be accepted
   * @param login for the connection to be made and the login answered, connect included
   * @param statement for any reply on a connection for short statements
   */
  public record Timeouts(Duration connect, Duration login, Duration statement) {
    public Timeouts {
      requireNonNull(connect, "connect");
      requireNonNull(login, "login");
      requireNonNull(statement, "statement");
      if (connect.toSeconds() < 1 || login.toSeconds() < 1 || statement.toSeconds() < 1) {
        throw new IllegalArgumentException(
            "timeouts are whole seconds of at least 1 (0 would mean no limit)");
      }
    }
  }

  /**
   * The timeouts cachesync uses. The statement limit is far above what a catalog query, a slot
   * check or a publication change takes, and still lets the daemon's housekeeping notice a dead
   * connection within a minute.
   */
  public static final Timeouts DEFAULT_TIMEOUTS =
      new Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(20), Duration.ofSeconds(60));

  private static final String URL = "jdbc:postgresql://";

  private final PostgresSettings settings;
  private final Timeouts timeouts;

  /**
   * Whether PostgreSQL failed the statement because it cannot serve anyone right now, rather than
   * because of the statement or the role: the connection failed or broke (08), the server is
   * starting, stopping or in recovery (57P0x), or it has no connection left (53300). Waiting helps;
   * a changed configuration does not.
   */
  public static boolean unavailable(SQLException e) {
    if (e instanceof TlsNotOfferedException) {
      return false;
    }
    String state = e.getSQLState();
    return state != null
        && (state.startsWith("08") || state.startsWith("57P") || state.equals("53300"));
  }

  public PostgresConnector(PostgresSettings settings) {
    this(settings, DEFAULT_TIMEOUTS);
  }

  public PostgresConnector(PostgresSettings settings, Timeouts timeouts) {
    this.settings = requireNonNull(settings, "settings");
    this.timeouts = requireNonNull(timeouts, "timeouts");
  }

  /**
   * Opens a connection for short statements (preflight, slot checks, publication and signal-table
   * upkeep): every reply must come within {@link Timeouts#statement()}, or the statement fails with
   * an {@link SQLException} (SQLState 08006) and the connection is closed.
   *
   * @param purpose shown as the connection's {@code application_name} in {@code pg_stat_activity}
   * @throws ServerUnreachableException when no connection could be made at all (refused, timed out,
   *     unknown host, no answer to the login)
   * @throws SQLException when the server answered but refused the login or the database
   */
  public Connection openForShortStatements(String purpose)
      throws ServerUnreachableException, SQLException {
    Properties properties = properties(purpose);
    properties.setProperty("socketTimeout", Long.toString(timeouts.statement().toSeconds()));
    return connect(properties);
  }

  /**
   * Opens a connection for long reads (initial loads, resync, verify, the orphan sweep). It has no
   * limit on how long a reply may take, because none can be right: a read whose plan sorts or scans
   * a large table sends nothing until it has its first rows, for as long as that takes, and any
   * limit would cut such a read short on a large enough table. A dead server or network is found
   * instead by TCP keepalive ({@code tcpKeepAlive}), after the operating system's keepalive time
   * ({@code net.ipv4.tcp_keepalive_time}, 2 hours by default on Linux). Connecting and logging in
   * are still limited by {@link Timeouts#login()}.
   *
   * @param purpose shown as the connection's {@code application_name} in {@code pg_stat_activity}
   * @throws ServerUnreachableException when no connection could be made at all (refused, timed out,
   *     unknown host, no answer to the login)
   * @throws SQLException when the server answered but refused the login or the database
   */
  public Connection open(String purpose) throws ServerUnreachableException, SQLException {
    return open(purpose, Map.of());
  }

  /**
   * As {@link #open(String)}, with more driver properties (a replication connection's {@code
   * replication=database}).
   */
  public Connection open(String purpose, Map<String, String> driverProperties)
      throws ServerUnreachableException, SQLException {
    Properties properties = properties(purpose);
    properties.setProperty("socketTimeout", "0");
    properties.setProperty("tcpKeepAlive", "true");
    driverProperties.forEach(properties::setProperty);
    return connect(properties);
  }

  private Properties properties(String purpose) {
    Properties properties = new Properties();
    properties.setProperty("PGHOST", settings.host());
    properties.setProperty("PGPORT", Integer.toString(settings.port()));
    properties.setProperty("PGDBNAME", settings.database());
    properties.setProperty("user", settings.user());
    settings.password().ifPresent(password -> properties.setProperty("password", password));
    properties.setProperty("ApplicationName", "cachesync " + purpose);
    properties.setProperty("connectTimeout", Long.toString(timeouts.connect().toSeconds()));
    properties.setProperty("loginTimeout", Long.toString(timeouts.login().toSeconds()));
    PostgresTlsSocketFactory.driverProperties(settings.tls()).forEach(properties::setProperty);
    return properties;
  }

  private Connection connect(Properties properties)
      throws ServerUnreachableException, SQLException {
    try {
      // No host, port or database in the URL: the driver reads them from PGHOST, PGPORT and
      // PGDBNAME, so that no character of theirs can be read as URL syntax. (Not the shorter
      // "jdbc:postgresql:", which pgjdbc reads as an empty database name that overrides PGDBNAME.)
      return DriverManager.getConnection(URL, properties);
    } catch (SQLException e) {
      String address = settings.host() + ":" + settings.port();
      Optional<String> tlsFailure = tlsFailure(e);
      if (tlsFailure.isPresent()) {
        throw ServerUnreachableException.tlsFailed("PostgreSQL", address, tlsFailure.get());
      }
      String state = e.getSQLState() == null ? "" : e.getSQLState();
      SslMode mode = settings.tls().sslmode();
      if (state.equals("08004") && mode.requiresTls() && e.getCause() == null) {
        // pgjdbc's "The server does not support SSL.": the server answered the SSL request with N.
        throw new TlsNotOfferedException(address, mode, e);
      }
      if (state.startsWith("08")) {
        throw new ServerUnreachableException(
            "PostgreSQL", address, causeOf(e) + brokenHandshakeHint(e));
      }
      if (state.startsWith("28")) {
        throw loginRefused(e);
      }
      throw e;
    }
  }

  /**
   * Why TLS failed, when it failed in a way waiting does not mend: a certificate or file that
   * cachesync refused ({@link PostgresTlsException}), or a TLS alert from the server (it refused
   * the client certificate, or shares no protocol or cipher with the client). A handshake cut short
   * by the network is an outage like any other, not one of these.
   */
  private Optional<String> tlsFailure(SQLException e) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof PostgresTlsException refused) {
        return Optional.of(refused.getMessage());
      }
      if (cause instanceof SSLException ssl
          && String.valueOf(ssl.getMessage()).startsWith("Received fatal alert")) {
        PostgresTls tls = settings.tls();
        return Optional.of(
            "the server ended the TLS handshake ("
                + ssl.getMessage()
                + ")"
                + tls.sslcert()
                    .map(
                        file ->
                            "; if it refused the client certificate postgres.sslcert ("
                                + file
                                + "), check that the server's ssl_ca_file holds the CA that"
                                + " signed it")
                    .orElse(""));
      }
      if (cause.getCause() == cause) {
        break;
      }
    }
    return Optional.empty();
  }

  /**
   * What to check when the connection broke in the TLS handshake (pgjdbc's 08006 over a socket
   * error) after a client certificate was offered: a server that refuses the certificate may close
   * the connection before the client reads its alert. Not certain enough to stop waiting, so the
   * failure stays an outage, with the hint.
   */
  private String brokenHandshakeHint(SQLException e) {
    if (!"08006".equals(e.getSQLState())
        || !(e.getCause() instanceof IOException)
        || !settings.tls().clientCertificate()) {
      return "";
    }
    return "; the connection broke in the TLS handshake: if the server refused the client"
        + " certificate postgres.sslcert ("
        + settings.tls().sslcert().get()
        + "), check that the server's ssl_ca_file holds the CA that signed it";
  }

  /**
   * The server's refusal of the login, with what the TLS settings add to its causes when no line of
   * pg_hba.conf let it in or a certificate login failed (28000; a wrong password is 28P01).
   */
  private SQLException loginRefused(SQLException e) {
    PostgresTls tls = settings.tls();
    String hint = "";
    if (!"28000".equals(e.getSQLState())) {
      return e;
    }
    if (tls.sslmode() == SslMode.DISABLE) {
      hint =
          " (with postgres.sslmode disable the connection is not encrypted, and pg_hba.conf may"
              + " allow this login only over TLS, in hostssl lines: set postgres.sslmode to"
              + " verify-full, or require)";
    } else if (tls.clientCertificate()) {
      hint =
          " (the client certificate postgres.sslcert ("
              + tls.sslcert().get()
              + ") was offered; for cert authentication its common name must be the user, or"
              + " pg_ident.conf must map it)";
    }
    return hint.isEmpty() ? e : new SQLException(e.getMessage() + hint, e.getSQLState(), e);
  }

  private static String causeOf(SQLException e) {
    Throwable cause = e.getCause();
    String message = e.getMessage();
    if (cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())) {
      message = message + " (" + cause.getMessage() + ")";
    }
    return message;
  }
}
