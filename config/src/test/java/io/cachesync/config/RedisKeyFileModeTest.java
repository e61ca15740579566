package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code redis.tls.keyFile} that others may read is used, with a warning that says the fix. */
class RedisKeyFileModeTest {
  private static final Path TLS = Path.of("src/test/resources/settings/tls");

  @TempDir Path directory;

  @Test
  void keyFileOnlyItsOwnerReads_noWarning() throws Exception {
    assertThat(load("rw-------").warnings()).isEmpty();
  }

  @Test
  void keyFileOthersRead_isUsedWithAWarningNamingTheKeyAndTheFix() throws Exception {
    Configuration configuration = load("rw-r--r--");

    assertThat(configuration.settings().redis().tls().keyFile())
        .contains(directory.resolve("client.key"));
    assertThat(configuration.warnings())
        .singleElement()
        .satisfies(
            warning -> {
              assertThat(warning.path()).isEqualTo("redis.tls.keyFile");
              assertThat(warning.message())
                  .startsWith(directory.resolve("client.key") + " may be used by other users")
                  .contains("chmod 600 " + directory.resolve("client.key"));
            });
  }

  private Configuration load(String keyMode) throws Exception {
    for (String name : new String[] {"ca.crt", "client.crt", "client.key"}) {
      Files.copy(TLS.resolve(name), directory.resolve(name));
    }
    Files.setPosixFilePermissions(
        directory.resolve("client.key"), PosixFilePermissions.fromString(keyMode));
    Files.writeString(
        directory.resolve("mapping.yml"),
        "tables:\n  - table: public.users\n    key: \"u:{id}\"\n");
    Path settings = directory.resolve("synchronizer.yml");
    Files.writeString(
        settings,
        "name: shop\npostgres:\n  database: shop\n  user: cachesync\nredis:\n"
            + "  uri: rediss://127.0.0.1:6380\n  tls:\n    caFile: ca.crt\n"
            + "    certFile: client.crt\n    keyFile: client.key\n");
    return new ConfigurationLoader(Map.of()).load(settings);
  }
}
