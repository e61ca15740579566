package io.cachesync.grants;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.PostgresSettings;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The SQL {@code cachesync grants --postgres} prints. */
class PostgresGrantsTest {

  private static SynchronizerSettings settings(String database, String user) {
    return new SynchronizerSettings(
        "shop",
        new PostgresSettings("127.0.0.1", 5432, database, user, Optional.of("Secret-pw-1")),
        new RedisSettings("redis://127.0.0.1"),
        Path.of("mapping.yml"));
  }

  private static TableMapping table(String table, String key) {
    return new TableMapping(
        TableId.parse(table),
        KeyTemplate.parse(key),
        TableMapping.DEFAULT_FORMAT,
        TableMapping.DEFAULT_MODE,
        List.of(),
        Optional.empty());
  }

  @Test
  void statements_grantReadingTheTablesAndCreateWhatTheRoleCannot() {
    PostgresGrants grants =
        PostgresGrants.of(
            settings("shop", "cachesync"),
            List.of(
                table("public.users", "user:{id}"),
                table("public.orders", "order:{id}"),
                table("sales.Invoices", "invoice:{id}")));

    assertThat(grants.statements())
        .containsExactly(
            "GRANT CONNECT ON DATABASE \"shop\" TO \"cachesync\";",
            "GRANT USAGE ON SCHEMA \"public\" TO \"cachesync\";",
            "GRANT USAGE ON SCHEMA \"sales\" TO \"cachesync\";",
            "GRANT SELECT ON TABLE \"public\".\"users\" TO \"cachesync\";",
            "GRANT SELECT ON TABLE \"public\".\"orders\" TO \"cachesync\";",
            "GRANT SELECT ON TABLE \"sales\".\"Invoices\" TO \"cachesync\";",
            "CREATE SCHEMA IF NOT EXISTS \"cachesync\";",
            "GRANT USAGE ON SCHEMA \"cachesync\" TO \"cachesync\";",
            "CREATE TABLE IF NOT EXISTS \"cachesync\".\"signal_shop\" (id varchar(64) PRIMARY KEY,"
                + " type varchar(32) NOT NULL, data varchar(4096));",
            "GRANT INSERT ON TABLE \"cachesync\".\"signal_shop\" TO \"cachesync\";",
            "DO $grants$\n"
                + "BEGIN\n"
                + "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname ="
                + " 'cachesync_shop') THEN\n"
                + "    CREATE PUBLICATION \"cachesync_shop\" FOR TABLE \"public\".\"users\","
                + " \"public\".\"orders\", \"sales\".\"Invoices\", \"cachesync\".\"signal_shop\""
                + " WITH (publish = 'insert, update, delete, truncate');\n"
                + "  ELSE\n"
                + "    ALTER PUBLICATION \"cachesync_shop\" SET TABLE \"public\".\"users\","
                + " \"public\".\"orders\", \"sales\".\"Invoices\", \"cachesync\".\"signal_shop\";\n"
                + "    ALTER PUBLICATION \"cachesync_shop\" SET (publish = 'insert, update,"
                + " delete, truncate');\n"
                + "  END IF;\n"
                + "END\n"
                + "$grants$;");
    assertThat(String.join("\n", grants.statements()))
        .doesNotContain("SUPERUSER")
        .doesNotContain("OWNER")
        .doesNotContain("ALTER ROLE");
  }

  @Test
  void statements_namesWithQuotesAndUpperCase_areQuoted() {
    PostgresGrants grants =
        PostgresGrants.of(
            settings("my \"shop\"", "Cache\"Sync"), List.of(table("Public.Users", "user:{id}")));

    assertThat(grants.statements())
        .contains(
            "GRANT CONNECT ON DATABASE \"my \"\"shop\"\"\" TO \"Cache\"\"Sync\";",
            "GRANT USAGE ON SCHEMA \"Public\" TO \"Cache\"\"Sync\";",
            "GRANT SELECT ON TABLE \"Public\".\"Users\" TO \"Cache\"\"Sync\";");
  }

  @Test
  void statements_nameOutsideAscii_isWrittenWithUnicodeEscapes() {
    PostgresGrants grants =
        PostgresGrants.of(settings("café", "rôle\\x"), List.of(table("public.users", "u:{id}")));

    assertThat(grants.statements())
        .contains("GRANT CONNECT ON DATABASE U&\"caf\\00e9\" TO U&\"r\\00f4le\\\\x\";");
    assertThat(grants.script())
        .isEqualTo(
            new String(grants.script().getBytes(), java.nio.charset.StandardCharsets.US_ASCII));
  }

  @Test
  void publication_tableNamedLikeTheDollarQuote_getsAnotherTag() {
    PostgresGrants grants =
        PostgresGrants.of(
            settings("shop", "cachesync"), List.of(table("public.x$grants$", "x:{id}")));

    String publication = grants.statements().get(grants.statements().size() - 1);
    assertThat(publication).startsWith("DO $grants1$\n").endsWith("\n$grants1$;");
    assertThat(PostgresGrants.dollarTag("a $grants$ b $grants1$")).isEqualTo("$grants2$");
  }

  @Test
  void script_saysWhereToRunItAndHowToCreateTheRole_withoutThePassword() {
    String script =
        PostgresGrants.of(settings("shop", "cachesync"), List.of(table("public.users", "u:{id}")))
            .script();

    assertThat(script)
        .startsWith("-- ")
        .contains("psql -v ON_ERROR_STOP=1 -d shop")
        .contains("--   CREATE ROLE \"cachesync\" LOGIN REPLICATION PASSWORD '...';")
        .doesNotContain("Secret-pw-1");
  }

  @Test
  void script_nameWithANewline_cannotEndAComment() {
    String script =
        PostgresGrants.of(
                settings("shop\nDROP DATABASE x;", "cachesync"),
                List.of(table("public.users", "u:{id}")))
            .script();

    assertThat(script.lines().filter(line -> !line.startsWith("--")))
        .noneMatch(line -> line.startsWith("DROP"));
    assertThat(script).contains("-d DATABASE");
  }
}
