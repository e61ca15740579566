package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.testing.CommandRun;
import io.cachesync.testing.ConfigFiles;
import io.cachesync.testing.PostgresServer;
import io.cachesync.testing.RedisServer;
import io.cachesync.testing.TestServers;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cachesync validate} against real servers, one setup problem at a time. */
class ValidateCommandIT {
  private static final String USERS = "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  private static PostgresServer postgres;
  private static RedisServer redis;
  private static String database;

  @TempDir Path directory;

  @BeforeAll
  static void startServers() {
    postgres = TestServers.sharedPostgres();
    redis = TestServers.redis();
    database = postgres.createDatabase("validate");
    postgres.execute(
        database,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text)",
        "CREATE TABLE events (id bigint, payload text)",
        "CREATE TABLE audit (id bigint NOT NULL UNIQUE, at timestamptz)",
        "ALTER TABLE audit REPLICA IDENTITY FULL",
        "CREATE TABLE orders (tenant_id int, id int, note text, PRIMARY KEY (tenant_id, id))",
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, handle text NOT NULL,"
            + " code text NOT NULL)",
        "CREATE UNIQUE INDEX accounts_email_key ON accounts (email)",
        "CREATE UNIQUE INDEX accounts_handle_key ON accounts (handle) WHERE handle <> ''",
        "CREATE UNIQUE INDEX accounts_code_key ON accounts (lower(code))",
        "ALTER TABLE accounts REPLICA IDENTITY FULL",
        "CREATE TABLE members (id bigint PRIMARY KEY, email text NOT NULL,"
            + " CONSTRAINT members_email_key UNIQUE (email) INCLUDE (id))",
        "ALTER TABLE members REPLICA IDENTITY FULL",
        "CREATE TABLE carts (id bigint PRIMARY KEY, __v text, items text)",
        "CREATE TABLE order_lines (order_id bigint, line_no int, sku text, PRIMARY KEY (order_id, line_no))",
        "CREATE TABLE shifts (starts timetz PRIMARY KEY, note text)",
        "CREATE TABLE grids (cells int[] PRIMARY KEY, note text)",
        "CREATE TABLE invites (id bigint, email text NOT NULL UNIQUE, PRIMARY KEY (id) INCLUDE (email))",
        "CREATE TABLE widgets (__id bigint PRIMARY KEY, label text)",
        "CREATE TABLE readings (id bigint NOT NULL, day date NOT NULL, PRIMARY KEY (id, day))"
            + " PARTITION BY RANGE (day)");
  }

  @AfterAll
  static void stopServers() {
    redis.close();
  }

  private Path config(String mapping) {
    return ConfigFiles.write(
        directory, "shop", ConfigFiles.postgres(postgres, database), redis.uri(), mapping);
  }

  @Test
  void validate_readySetup_printsTheSummaryAndPasses() {
    Path config =
        config(
            USERS
                + "    columns: [id, name]\n    ttl: 1h\n"
                + "  - table: public.order_lines\n    key: \"line:{order_id}:{line_no}\"\n    format: json\n");

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(0);
    assertThat(run.out())
        .contains(config + ": valid")
        .contains(
            "name shop: replication slot cachesync_shop, publication cachesync_shop, state keys cachesync:shop:*")
        .contains(
            "public.users        user:{id}                  hash, write, columns id, name, ttl 1h")
        .contains("public.order_lines  line:{order_id}:{line_no}  json, write, all columns")
        .contains("ok    postgres: user postgres may replicate")
        .contains("ok    postgres: signal table cachesync.signal_shop will be created")
        .contains("ok    public.users: primary key (id) carries the key's columns on delete")
        .contains(
            "ok    public.order_lines: primary key (order_id, line_no) carries the key's columns on delete")
        .contains("ok    redis: maxmemory-policy noeviction never evicts cachesync's state keys")
        .endsWith("preflight passed\n");
  }

  @Test
  void validate_walLevelReplica_failsWithTheFix() {
    try (PostgresServer replica = TestServers.postgres(Map.of("wal_level", "replica"))) {
      replica.execute("postgres", "CREATE TABLE users (id bigint PRIMARY KEY)");
      Path config =
          ConfigFiles.write(
              directory, "shop", ConfigFiles.postgres(replica, "postgres"), redis.uri(), USERS);

      CommandRun run = CommandRun.of("validate", "--config", config.toString());

      assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
      assertThat(run.out())
          .contains(
              "FAIL  postgres: wal_level is 'replica'; logical decoding needs wal_level=logical: run ALTER"
                  + " SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL")
          .contains("ok    public.users: primary key (id)")
          .endsWith("preflight failed: 1 problem (FAIL above)\n");
    }
  }

  @Test
  void validate_tableWithoutPrimaryKey_failsWithTheFix() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.events\n    key: \"event:{id}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.events: no primary key, so deletes carry no key columns and their keys cannot"
                + " be evicted; add a primary key, or run ALTER TABLE public.events REPLICA IDENTITY FULL");
  }

  @Test
  void validate_replicaIdentityFullWithoutPrimaryKey_passes() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.audit\n    key: \"audit:{id}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(0);
    assertThat(run.out())
        .contains("ok    public.audit: REPLICA IDENTITY FULL: deletes carry every column")
        .contains(
            "ok    public.audit: key 'audit:{id}' names one row: it holds the unique index audit_id_key (id)");
  }

  @Test
  void validate_keyOnPartOfACompositePrimaryKey_failsNamingTheMissingColumn() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.orders\n    key: \"order:{id}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.orders: key 'order:{id}' is not proven to name exactly one row:"
                + " nothing proves that (id) identifies a row: the primary key"
                + " (tenant_id, id) also has tenant_id, which the key does not use; add the missing"
                + " columns to the key (every column of the primary key), or create a unique index on"
                + " (id) over NOT NULL columns, neither partial nor over expressions");
  }

  @Test
  void validate_keyOnUniqueIndexesThatProveNothing_failsSayingWhyForEach() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config(
                    "tables:\n  - table: public.accounts\n    key: \"account:{email}/{handle}/{code}\"\n")
                .toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.accounts: key 'account:{email}/{handle}/{code}' is not proven to name"
                + " exactly one row: nothing proves that (email, handle, code)"
                + " identifies a row: the primary key (id) also has id, which the key does not use;"
                + " the unique index accounts_code_key (an expression) is over an expression, not only"
                + " columns; the unique index accounts_email_key (email) allows NULL in email, and a row with a NULL there would"
                + " have no key (run"
                + " ALTER TABLE public.accounts ALTER COLUMN email SET NOT NULL); the unique index"
                + " accounts_handle_key (handle) is partial (WHERE ...), so rows outside it may repeat"
                + " its values; add the missing columns to the key");
  }

  @Test
  void validate_keyOnAUniqueNotNullIndex_passes() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.members\n    key: \"member:{email}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(0);
    assertThat(run.out())
        .contains(
            "ok    public.members: key 'member:{email}' names one row: it holds the unique index"
                + " members_email_key (email)");
  }

  @Test
  void validate_allColumnsWithAReservedName_failsNamingColumnTableAndFix() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.carts\n    key: \"cart:{id}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.carts: column __v of public.carts starts with '__', which cachesync reserves"
                + " for the metadata it stores in cached values (__v is the version), so caching it"
                + " would overwrite them; list the columns to cache without it: columns: [id, items]");
  }

  @Test
  void validate_keyColumnOfATypeWhoseTextIsNotOneToOne_failsNamingColumnTypeAndFix() {
    // '10:00+02' and '08:00+00' are two timetz values that render one key; '{1,2}' and
    // '[0:1]={1,2}' two arrays.
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config(
                    "tables:\n  - table: public.shifts\n    key: \"shift:{starts}\"\n"
                        + "  - table: public.grids\n    key: \"grid:{cells}\"\n")
                .toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.shifts: key column starts is of type time with time zone, whose text in a"
                + " key is not one-to-one with its values")
        .contains("FAIL  public.grids: key column cells is of type integer[], whose text")
        .contains("key by columns of an integer, text, varchar, char, citext, numeric, uuid");
  }

  @Test
  void validate_keyOnAnIncludeColumnOfThePrimaryKey_failsAsNotCarriedByDeletes() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.invites\n    key: \"inc:{email}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.invites: key 'inc:{email}' uses email, which the primary key (id) does"
                + " not hold, so deletes and key changes would not carry it");
  }

  @Test
  void validate_keyColumnWithAReservedName_saysToRenameIt() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.widgets\n    key: \"w:{__id}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.widgets: key column __id starts with '__', which cachesync reserves for"
                + " the metadata it stores in cached values, and a key column is always cached with"
                + " the row; rename the column (ALTER TABLE public.widgets RENAME COLUMN __id TO id)")
        .doesNotContain("without it");
  }

  @Test
  void validate_partitionedTableKeyWithoutThePartitionKey_suggestsNoIndexPostgresRefuses() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.readings\n    key: \"reading:{id}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "public.readings is partitioned by day, and PostgreSQL refuses a unique index without"
                + " every partition key column")
        .doesNotContain("create a unique index on (id)");
  }

  @Test
  void validate_keyOutsideThePrimaryKey_failsWithTheFix() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config("tables:\n  - table: public.users\n    key: \"user:{email}\"\n").toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.users: key 'user:{email}' uses email, which the primary key (id) does not hold,"
                + " so deletes and key changes would not carry it; key by the primary key columns, or run"
                + " ALTER TABLE public.users REPLICA IDENTITY FULL");
  }

  @Test
  void validate_missingTableAndColumns_namesThemWithSuggestions() {
    CommandRun run =
        CommandRun.of(
            "validate",
            "--config",
            config(
                    "tables:\n  - table: public.user\n    key: \"u:{id}\"\n"
                        + "  - table: public.users\n    key: \"user:{uid}\"\n    columns: [uid, name, emial]\n")
                .toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  public.user: table does not exist in database "
                + database
                + " (did you mean 'public.users'?)")
        .contains(
            "FAIL  public.users: placeholder {uid} in key 'user:{uid}' is not a column of public.users"
                + " (columns: id, name, email) (did you mean 'id'?)")
        .contains(
            "FAIL  public.users: column emial in columns is not a column of public.users (columns: id,"
                + " name, email) (did you mean 'email'?)");
  }

  @Test
  void validate_redisMayEvictAnyKey_failsWithTheFix() {
    try (RedisServer lru =
        TestServers.redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")) {
      Path config =
          ConfigFiles.write(
              directory, "shop", ConfigFiles.postgres(postgres, database), lru.uri(), USERS);

      CommandRun run = CommandRun.of("validate", "--config", config.toString());

      assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
      assertThat(run.out())
          .contains(
              "FAIL  redis: maxmemory-policy is allkeys-lru, so Redis may evict cachesync's state keys"
                  + " (cachesync:*) and lose track of what was applied; set maxmemory-policy to"
                  + " noeviction or a volatile-* policy");
    }
  }

  @Test
  void validate_redisReplica_failsAndAsksForTheMaster() {
    try (RedisServer replica =
        TestServers.redis("--replicaof", redis.host(), Integer.toString(redis.port()))) {
      Path config =
          ConfigFiles.write(
              directory, "shop", ConfigFiles.postgres(postgres, database), replica.uri(), USERS);

      CommandRun run = CommandRun.of("validate", "--config", config.toString());

      assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
      assertThat(run.out()).contains("is a slave, not the master; point redis.uri at the master");
    }
  }

  @Test
  void validate_userWithoutRightsOnANewPublication_failsWithTheSqlToRun() {
    Path config =
        ConfigFiles.write(
            directory,
            "shop",
            "host: 127.0.0.1\nport: "
                + postgres.port()
                + "\ndatabase: "
                + database
                + "\nuser: "
                + PostgresServer.PASSWORD_ROLE
                + "\npassword: "
                + PostgresServer.PASSWORD_ROLE_PASSWORD
                + "\n",
            redis.uri(),
            USERS);
    postgres.execute(database, "GRANT SELECT ON users TO " + PostgresServer.PASSWORD_ROLE);

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
    assertThat(run.out())
        .contains(
            "FAIL  postgres: user cachesync_pw may not replicate (it needs REPLICATION); run ALTER"
                + " ROLE \"cachesync_pw\" REPLICATION as a superuser")
        .contains(
            "FAIL  postgres: the signal table cachesync.signal_shop does not exist and user"
                + " cachesync_pw may not create it (it needs CREATE on database "
                + database
                + "); have a superuser run the statements `cachesync grants --postgres` prints"
                + " (every right the configuration needs)")
        .contains(
            "FAIL  postgres: publication cachesync_shop does not exist and user cachesync_pw may not"
                + " create it (it needs CREATE on database "
                + database
                + " and to own every table); have a superuser run CREATE PUBLICATION cachesync_shop"
                + " FOR TABLE \"public\".\"users\", \"cachesync\".\"signal_shop\" WITH (publish ="
                + " 'insert, update, delete, truncate'), or the statements `cachesync grants"
                + " --postgres` prints");
    assertThat(run.output()).doesNotContain(PostgresServer.PASSWORD_ROLE_PASSWORD);
  }

  @Test
  void verifyAndResync_wrongPostgresPassword_exitInvalidNamingTheLoginWithoutThePassword() {
    String wrong = "Wrong-pw-never-printed-8";
    Path config =
        ConfigFiles.write(
            directory,
            "shop",
            "port: "
                + postgres.port()
                + "\ndatabase: "
                + database
                + "\nuser: "
                + PostgresServer.PASSWORD_ROLE
                + "\npassword: "
                + wrong
                + "\n",
            redis.uri(),
            USERS);

    for (String command : new String[] {"verify", "resync"}) {
      CommandRun run = CommandRun.of(command, "--config", config.toString());

      assertThat(run.exitCode()).as(command + ": " + run.output()).isEqualTo(ExitCode.INVALID);
      assertThat(run.err())
          .as(command)
          .contains("password authentication failed for user \"cachesync_pw\"")
          .containsPattern("check postgres.user(,| and) postgres.password")
          .doesNotContain("--verbose");
      assertThat(run.output()).as(command).doesNotContain(wrong);
    }
  }

  @Test
  void validate_wrongPasswords_areReportedWithoutShowingThem() {
    String wrong = "Wrong-pw-never-printed-7";
    try (RedisServer locked = TestServers.redis("--requirepass", "Redis-pw-never-printed-9")) {
      Path config =
          ConfigFiles.write(
              directory,
              "shop",
              "port: "
                  + postgres.port()
                  + "\ndatabase: "
                  + database
                  + "\nuser: "
                  + PostgresServer.PASSWORD_ROLE
                  + "\npassword: "
                  + wrong
                  + "\n",
              "redis://:" + wrong + "@127.0.0.1:" + locked.port(),
              USERS);

      CommandRun run = CommandRun.of("validate", "--config", config.toString());

      assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.INVALID);
      assertThat(run.out())
          .contains("refused the login of user cachesync_pw")
          .contains("redis://:****@127.0.0.1:" + locked.port());
      assertThat(run.output()).doesNotContain(wrong).doesNotContain("Redis-pw-never-printed-9");
    }
  }

  @Test
  void validate_postgresUnreachable_exitsThreeNamingHostAndPort() {
    Path config =
        ConfigFiles.write(
            directory,
            "shop",
            "port: 1\ndatabase: shop\nuser: cachesync\npassword: Pg-pw-hidden-1\n",
            redis.uri(),
            USERS);

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.UNREACHABLE);
    assertThat(run.err())
        .startsWith(
            "error: PostgreSQL at 127.0.0.1:1 cannot be reached: Connection to 127.0.0.1:1 refused");
    assertThat(run.output()).doesNotContain("Pg-pw-hidden-1");
  }

  @Test
  void validate_redisUnreachable_exitsThreeNamingTheAddress() {
    Path config =
        ConfigFiles.write(
            directory,
            "shop",
            ConfigFiles.postgres(postgres, database),
            "redis://:Redis-hidden-2@127.0.0.1:1",
            USERS);

    CommandRun run = CommandRun.of("validate", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.UNREACHABLE);
    assertThat(run.err())
        .startsWith(
            "error: Redis at redis://:****@127.0.0.1:1 cannot be reached: Connection refused");
    assertThat(run.output()).doesNotContain("Redis-hidden-2");
  }

  @Test
  void validate_offline_checksTheFilesWithoutContactingServers() {
    Path config =
        ConfigFiles.write(
            directory,
            "shop",
            "port: 1\ndatabase: shop\nuser: cachesync\n",
            "redis://127.0.0.1:1",
            USERS);

    CommandRun run = CommandRun.of("validate", "--config", config.toString(), "--offline");

    assertThat(run.exitCode()).as(run.output()).isEqualTo(0);
    assertThat(run.out())
        .contains("public.users  user:{id}  hash, write, all columns")
        .endsWith("preflight skipped (--offline)\n");
  }

  @Test
  void validate_invalidFiles_exitsTwoWithEveryProblemAndNoStackTrace() {
    Path config =
        config("tables:\n  - table: public.users\n    key: \"user:{id\"\n    format: hsah\n");

    CommandRun run = CommandRun.of("validate", "--config", config.toString(), "--offline");

    assertThat(run.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(run.err())
        .isEqualTo(
            "2 configuration problems:\n"
                + "  1. "
                + directory.resolve("mapping.yml")
                + ":3:5: tables[0].key: key 'user:{id': unclosed '{' at position 6 (write '{{' for a literal brace)\n"
                + "  2. "
                + directory.resolve("mapping.yml")
                + ":4:5: tables[0].format: 'hsah' is not one of hash, json (did you mean 'hash'?)\n");
    assertThat(run.out()).isEmpty();
  }
}
