package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.KeyTemplate;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Ttl;
import io.cachesync.model.ValueFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConfigurationLoaderTest {
  private static final Path SETTINGS = Path.of("src/test/resources/settings");
  private static final Path MAPPINGS = Path.of("src/test/resources/mapping");

  @Test
  void load_minimalSettings_appliesEveryDefault() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("minimal.yml"));

    SynchronizerSettings settings = configuration.settings();
    assertThat(settings.name()).isEqualTo("shop");
    assertThat(settings.postgres().host()).isEqualTo("127.0.0.1");
    assertThat(settings.postgres().port()).isEqualTo(5432);
    assertThat(settings.postgres().password()).isEmpty();
    assertThat(settings.redis().uri()).isEqualTo("redis://127.0.0.1:6379");
    assertThat(settings.redis().waitReplicas()).isZero();
    assertThat(settings.mapping()).isEqualTo(SETTINGS.resolve("mapping.yml"));
    assertThat(settings.slotName()).isEqualTo("cachesync_shop");
    assertThat(settings.publicationName()).isEqualTo("cachesync_shop");
    assertThat(settings.stateKeyPrefix()).isEqualTo("cachesync:shop:");
    assertThat(settings.http())
        .isEqualTo(
            new HttpSettings(
                true, "127.0.0.1", 9464, Duration.ofSeconds(30), Duration.ofSeconds(120)));
  }

  @Test
  void load_httpOff_disablesTheEndpoint() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("http-off.yml"));

    assertThat(configuration.settings().http().enabled()).isFalse();
  }

  @Test
  void load_everyHttpSetting_isRead() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("http-all.yml"));

    assertThat(configuration.settings().http())
        .isEqualTo(
            new HttpSettings(true, "0.0.0.0", 0, Duration.ofSeconds(5), Duration.ofSeconds(60)));
  }

  @Test
  void load_minimalMapping_appliesEveryDefault() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("minimal.yml"));

    TableMapping users = configuration.mapping().tables().get(0);
    assertThat(users.format()).isEqualTo(ValueFormat.HASH);
    assertThat(users.mode()).isEqualTo(SyncMode.WRITE);
    assertThat(users.allColumns()).isTrue();
    assertThat(users.columns()).isEmpty();
    assertThat(users.ttl()).isEmpty();
  }

  @Test
  void load_fullSettings_readsEveryKeyAndInterpolatesTheEnvironment() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of("CACHESYNC_TEST_PASSWORD", "s3cret!"))
            .load(SETTINGS.resolve("valid.yml"));

    PostgresSettings postgres = configuration.settings().postgres();
    assertThat(postgres.host()).isEqualTo("db.internal");
    assertThat(postgres.port()).isEqualTo(6432);
    assertThat(postgres.database()).isEqualTo("shop");
    assertThat(postgres.user()).isEqualTo("cachesync");
    assertThat(postgres.password()).contains("s3cret!");
    assertThat(configuration.settings().redis().uri())
        .isEqualTo("redis://:hunter2@cache.internal:6380/0");
    assertThat(configuration.settings().redis().waitReplicas()).isEqualTo(1);
  }

  @Test
  void load_redisTls_resolvesItsFilesAgainstTheSettingsFolder() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of("CACHESYNC_TEST_PASSWORD", "s3cret!"))
            .load(SETTINGS.resolve("tls-valid.yml"));

    RedisSettings redis = configuration.settings().redis();
    assertThat(redis.usesTls()).isTrue();
    assertThat(redis.tls())
        .isEqualTo(
            new RedisTlsSettings(
                Optional.of(SETTINGS.resolve("tls/ca.crt")),
                Optional.of(SETTINGS.resolve("tls/client.crt")),
                Optional.of(SETTINGS.resolve("tls/client.key")),
                RedisTlsSettings.Verify.CA));
    assertThat(redis.describeTransport())
        .isEqualTo(
            "TLS, verify ca (CA in "
                + SETTINGS.resolve("tls/ca.crt")
                + ", any host name), client certificate "
                + SETTINGS.resolve("tls/client.crt"));
    assertThat(configuration.toString()).doesNotContain("s3cret!");
  }

  @Test
  void load_tlsSentinelWithoutVerify_checksTheHostNameByDefault() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("tls-sentinel-valid.yml"));

    RedisSettings redis = configuration.settings().redis();
    assertThat(redis.usesTls()).isTrue();
    assertThat(redis.tls().verify()).isEqualTo(RedisTlsSettings.Verify.FULL);
    assertThat(redis.tls().clientCertificate()).isFalse();
    assertThat(redis.describeTransport())
        .isEqualTo(
            "TLS to Sentinel and to the master, verify full (CA in "
                + SETTINGS.resolve("tls/ca.crt")
                + " and host name)");
  }

  @Test
  void load_rediss_withoutTlsSection_trustsTheJdkAndChecksTheHostName() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("minimal.yml"));

    assertThat(configuration.settings().redis().usesTls()).isFalse();
    assertThat(configuration.settings().redis().tls()).isEqualTo(RedisTlsSettings.DEFAULT);
    assertThat(configuration.settings().redis().describeTransport())
        .isEqualTo("plain text (no TLS)");
    assertThat(new RedisSettings("rediss://cache.internal:6380").describeTransport())
        .isEqualTo("TLS, verify full (CA in the JDK's trust store and host name)");
  }

  @Test
  void toString_settingsWithPasswords_neverShowsThem() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of("CACHESYNC_TEST_PASSWORD", "s3cret!"))
            .load(SETTINGS.resolve("valid.yml"));

    assertThat(configuration.toString())
        .doesNotContain("s3cret!")
        .doesNotContain("hunter2")
        .contains("password=****")
        .contains("redis://:****@cache.internal:6380/0");
  }

  @Test
  void read_validMapping_readsEveryKey() {
    Problems problems = new Problems();

    var mapping =
        MappingReader.read(
            MAPPINGS.resolve("valid.yml"), "valid.yml", problems, new Interpolator(Map.of()));

    assertThat(problems.list()).isEmpty();
    assertThat(mapping.orElseThrow().tables())
        .containsExactly(
            new TableMapping(
                TableId.parse("public.users"),
                KeyTemplate.parse("user:{id}"),
                ValueFormat.HASH,
                SyncMode.WRITE,
                List.of("id", "name", "email"),
                Optional.of(new Ttl(Duration.ofHours(1)))),
            new TableMapping(
                TableId.parse("public.order_lines"),
                KeyTemplate.parse("order:{order_id}:line:{line_no}"),
                ValueFormat.JSON,
                SyncMode.WRITE,
                List.of(),
                Optional.empty()),
            new TableMapping(
                TableId.parse("shop.products"),
                KeyTemplate.parse("product:{sku}"),
                ValueFormat.HASH,
                SyncMode.EVICT,
                List.of(),
                Optional.empty()),
            new TableMapping(
                TableId.parse("public.settings"),
                KeyTemplate.parse("{{literal}}:{id}"),
                ValueFormat.HASH,
                SyncMode.WRITE,
                List.of(),
                Optional.empty()));
  }

  @Test
  void read_mappingWithVariables_usesTheEnvironmentThenTheDefault() {
    Problems problems = new Problems();

    var mapping =
        MappingReader.read(
            MAPPINGS.resolve("env-interpolated.yml"),
            "env-interpolated.yml",
            problems,
            new Interpolator(Map.of("CACHESYNC_TEST_TTL", "15m")));

    assertThat(problems.list()).isEmpty();
    TableMapping users = mapping.orElseThrow().tables().get(0);
    assertThat(users.key().text()).isEqualTo("user:{id}");
    assertThat(users.ttl()).contains(new Ttl(Duration.ofMinutes(15)));
  }

  @Test
  void load_emptyPasswordFromAnUnsetVariable_meansNoPassword() throws Exception {
    Configuration configuration =
        new ConfigurationLoader(Map.of()).load(SETTINGS.resolve("empty-password.yml"));

    assertThat(configuration.settings().postgres().password()).isEmpty();
  }
}
