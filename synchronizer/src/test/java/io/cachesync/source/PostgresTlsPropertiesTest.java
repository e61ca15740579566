package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.Configuration;
import io.cachesync.config.PostgresSettings;
import io.cachesync.config.PostgresTls;
import io.cachesync.config.PostgresTls.SslMode;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.Mapping;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The TLS settings reach Debezium (its JDBC and replication connections read every {@code
 * database.*} property) exactly as they reach cachesync's own connections.
 */
class PostgresTlsPropertiesTest {
  private static final Path CA = Path.of("/etc/cachesync/ca.crt");
  private static final Path CERT = Path.of("/etc/cachesync/client.crt");
  private static final Path KEY = Path.of("/etc/cachesync/client.key");

  private static Configuration configuration(PostgresTls tls) {
    PostgresSettings postgres =
        new PostgresSettings("db.internal", 5432, "shop", "cachesync", Optional.of("Zq@Kp"), tls);
    TableMapping users =
        new TableMapping(
            TableId.parse("public.users"),
            KeyTemplate.parse("user:{id}"),
            ValueFormat.HASH,
            SyncMode.WRITE,
            List.of(),
            Optional.empty());
    return new Configuration(
        Path.of("synchronizer.yml"),
        new SynchronizerSettings(
            "shop", postgres, new RedisSettings(RedisSettings.DEFAULT_URI), Path.of("mapping.yml")),
        new Mapping(List.of(users)));
  }

  @Test
  void properties_verifyFullWithClientCertificate_giveDebeziumTheFactoryAndEveryFile() {
    PostgresTls tls =
        new PostgresTls(
            SslMode.VERIFY_FULL, Optional.of(CA), false, Optional.of(CERT), Optional.of(KEY));

    Properties properties = DebeziumChangeSource.properties(configuration(tls));

    assertThat(properties)
        .containsEntry("database.sslmode", "verify-full")
        .containsEntry("database.sslfactory", PostgresTlsSocketFactory.class.getName())
        .containsEntry("database.sslrootcert", CA.toString())
        .containsEntry("database.sslcert", CERT.toString())
        .containsEntry("database.sslkey", KEY.toString());
  }

  @Test
  void properties_disable_giveDebeziumOnlyTheMode() {
    PostgresTls tls =
        new PostgresTls(
            SslMode.DISABLE, Optional.empty(), false, Optional.empty(), Optional.empty());

    Properties properties = DebeziumChangeSource.properties(configuration(tls));

    assertThat(properties).containsEntry("database.sslmode", "disable");
    assertThat(properties.stringPropertyNames())
        .filteredOn(name -> name.startsWith("database.ssl"))
        .containsExactly("database.sslmode");
  }

  @Test
  void properties_noTlsSettings_preferTlsWithCachesyncsFactory() {
    Properties properties = DebeziumChangeSource.properties(configuration(PostgresTls.DEFAULT));

    assertThat(properties)
        .containsEntry("database.sslmode", "prefer")
        .containsEntry("database.sslfactory", PostgresTlsSocketFactory.class.getName())
        .doesNotContainKeys("database.sslrootcert", "database.sslcert", "database.sslkey");
  }

  @Test
  void driverProperties_systemRoots_nameThemAsLibpqDoes() {
    PostgresTls tls =
        new PostgresTls(
            SslMode.VERIFY_FULL, Optional.empty(), true, Optional.empty(), Optional.empty());

    assertThat(PostgresTlsSocketFactory.driverProperties(tls))
        .isEqualTo(
            Map.of(
                "sslmode", "verify-full",
                "sslfactory", PostgresTlsSocketFactory.class.getName(),
                "sslrootcert", "system"));
  }

  @Test
  void properties_everyDatabaseSetting_isOneCachesyncsOwnConnectionsGetToo() {
    PostgresTls tls =
        new PostgresTls(
            SslMode.VERIFY_CA, Optional.of(CA), false, Optional.of(CERT), Optional.of(KEY));

    Properties debezium = DebeziumChangeSource.properties(configuration(tls));

    PostgresTlsSocketFactory.driverProperties(tls)
        .forEach((key, value) -> assertThat(debezium).containsEntry("database." + key, value));
    assertThat(debezium.stringPropertyNames())
        .filteredOn(name -> name.startsWith("database.ssl"))
        .hasSize(PostgresTlsSocketFactory.driverProperties(tls).size());
  }
}
