package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code postgres.passwordFile} and {@code redis.passwordFile}: the password is read from the file
 * at start, a file others may read is used with a warning, and no problem or warning ever quotes
 * what a file holds.
 */
class PasswordFileTest {
  private static final String PASSWORD = "Pw${x@y:z/w#q?r%s 9";

  @TempDir Path directory;

  @Test
  void postgres_fileOnlyItsOwnerReads_isThePasswordWithoutItsLineEnd() throws Exception {
    secret("pg.secret", PASSWORD + "\n", "rw-------");

    Configuration configuration = load("postgres:\n  passwordFile: pg.secret\n");

    assertThat(configuration.settings().postgres().password()).contains(PASSWORD);
    assertThat(configuration.warnings()).isEmpty();
  }

  @Test
  void postgres_fileWithWindowsLineEnd_dropsIt() throws Exception {
    secret("pg.secret", PASSWORD + "\r\n", "rw-------");

    assertThat(load("postgres:\n  passwordFile: pg.secret\n").settings().postgres().password())
        .contains(PASSWORD);
  }

  @Test
  void postgres_absolutePath_isReadFromThere(@TempDir Path elsewhere) throws Exception {
    Path file = elsewhere.resolve("pg.secret");
    Files.writeString(file, PASSWORD, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--------"));

    assertThat(load("postgres:\n  passwordFile: " + file + "\n").settings().postgres().password())
        .contains(PASSWORD);
  }

  @Test
  void postgres_fileTheGroupAndOthersRead_isUsedWithAWarningThatSaysHowToFixIt() throws Exception {
    Path file = secret("pg.secret", PASSWORD, "rw-r--r--");

    Configuration configuration = load("postgres:\n  passwordFile: pg.secret\n");

    assertThat(configuration.settings().postgres().password()).contains(PASSWORD);
    assertThat(configuration.warnings()).hasSize(1);
    assertThat(configuration.warnings().get(0).path()).isEqualTo("postgres.passwordFile");
    assertThat(configuration.warnings().get(0).line()).isEqualTo(5);
    assertThat(configuration.warnings().get(0).message())
        .isEqualTo(
            file
                + " may be read by its group and every user (mode 0644); restrict it to the user"
                + " that runs cachesync: chmod 600 "
                + file);
  }

  @Test
  void postgres_fileItsGroupReads_warnsAboutTheGroupOnly() throws Exception {
    secret("pg.secret", PASSWORD, "rw-r-----");

    assertThat(load("postgres:\n  passwordFile: pg.secret\n").warnings())
        .singleElement()
        .satisfies(w -> assertThat(w.message()).contains("may be read by its group (mode 0640)"));
  }

  @Test
  void postgres_passwordAndPasswordFile_isAProblem() throws Exception {
    secret("pg.secret", PASSWORD, "rw-------");

    assertThat(problems("postgres:\n  password: inline-pw\n  passwordFile: pg.secret\n"))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.path()).isEqualTo("postgres.passwordFile");
              assertThat(p.message()).startsWith("postgres.password is set too; keep one of them");
            });
  }

  @Test
  void passwordFile_unusable_isAProblemNamingTheFileAndTheFix() throws Exception {
    secret("empty.secret", "\n", "rw-------");
    secret("two-lines.secret", PASSWORD + "\nsecond " + PASSWORD + "\n", "rw-------");
    Files.write(directory.resolve("latin1.secret"), new byte[] {'p', (byte) 0xe9, 'w'});
    Files.createDirectory(directory.resolve("folder"));

    assertThat(messageOf("missing.secret"))
        .startsWith(directory.resolve("missing.secret") + " does not exist (looked for ")
        .endsWith("); create it with the password alone in it, or point passwordFile at it");
    assertThat(messageOf("empty.secret"))
        .endsWith("empty.secret is empty; write the password in it");
    assertThat(messageOf("two-lines.secret"))
        .endsWith(
            "two-lines.secret holds more than one line; it should hold the password alone"
                + " (one line end after it is allowed)");
    assertThat(messageOf("latin1.secret"))
        .endsWith("latin1.secret is not UTF-8 text; write the" + " password in UTF-8");
    assertThat(messageOf("folder"))
        .endsWith("folder is a folder; name the file that holds the" + " password");
  }

  @Test
  void redis_uriWithoutUser_getsThePasswordPercentEncoded() throws Exception {
    secret("redis.secret", PASSWORD + "\n", "rw-------");

    RedisSettings redis =
        load("redis:\n  uri: redis://127.0.0.1:6390/2\n  passwordFile: redis.secret\n")
            .settings()
            .redis();

    assertThat(redis.uri())
        .isEqualTo("redis://:Pw%24%7Bx%40y%3Az%2Fw%23q%3Fr%25s%209@127.0.0.1:6390/2");
    assertThat(redis.redactedUri()).isEqualTo("redis://:****@127.0.0.1:6390/2");
    assertThat(redis.toString()).doesNotContain("Pw");
  }

  @Test
  void redis_uriNamingTheUser_keepsTheUserAndAddsThePassword() throws Exception {
    secret("redis.secret", "plain", "rw-------");

    assertThat(uri("rediss://cachesync@cache.example:6380"))
        .isEqualTo("rediss://cachesync:plain@cache.example:6380");
    assertThat(uri("redis://cachesync:@cache.example"))
        .isEqualTo("redis://cachesync:plain@cache.example");
    assertThat(uri("redis-sentinel://10.0.0.1:26379,10.0.0.2:26379#main"))
        .isEqualTo("redis-sentinel://:plain@10.0.0.1:26379,10.0.0.2:26379#main");
  }

  @Test
  void redis_uriWithAPasswordAndAPasswordFile_isAProblemThatDoesNotQuoteEither() throws Exception {
    secret("redis.secret", PASSWORD, "rw-------");

    assertThat(
            problems(
                "redis:\n  uri: redis://cachesync:inline-pw@127.0.0.1\n  passwordFile: redis.secret\n"))
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.path()).isEqualTo("redis.passwordFile");
              assertThat(p.message())
                  .isEqualTo(
                      "redis.uri 'redis://cachesync:****@127.0.0.1' holds a password and"
                          + " redis.passwordFile is set; keep one of them (with passwordFile, the"
                          + " URI names only the user: redis://USER@host:port)");
            });
  }

  @Test
  void noProblemOrWarning_quotesWhatAFileHolds() throws Exception {
    secret("open.secret", PASSWORD, "rw-rw-rw-");
    secret("two-lines.secret", PASSWORD + "\n" + PASSWORD, "rw-rw-rw-");

    Configuration open = load("postgres:\n  passwordFile: open.secret\n");
    List<Problem> problems =
        problems(
            "postgres:\n  passwordFile: two-lines.secret\nredis:\n  uri: redis://u:x@h\n"
                + "  passwordFile: open.secret\n");

    assertThat(open.warnings()).isNotEmpty();
    assertThat(problems).hasSize(2);
    for (Problem problem : concat(open.warnings(), problems)) {
      assertThat(problem.toString()).doesNotContain("Pw").doesNotContain("Pw%24");
    }
  }

  private static List<Problem> concat(List<Problem> a, List<Problem> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
  }

  private String uri(String uri) throws Exception {
    return load("redis:\n  uri: " + uri + "\n  passwordFile: redis.secret\n")
        .settings()
        .redis()
        .uri();
  }

  private String messageOf(String fileName) throws Exception {
    List<Problem> problems = problems("postgres:\n  passwordFile: " + fileName + "\n");
    assertThat(problems).hasSize(1);
    assertThat(problems.get(0).path()).isEqualTo("postgres.passwordFile");
    return problems.get(0).message();
  }

  private Path secret(String name, String content, String mode) throws IOException {
    Path file = directory.resolve(name);
    Files.writeString(file, content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return file;
  }

  /** synchronizer.yml with {@code extra} after a minimal postgres section. */
  private Path settings(String extra) throws IOException {
    Files.writeString(
        directory.resolve("mapping.yml"),
        "tables:\n  - table: public.users\n    key: \"u:{id}\"\n");
    String postgres = "name: shop\npostgres:\n  database: shop\n  user: cachesync\n";
    String text =
        extra.startsWith("postgres:\n")
            ? postgres + extra.substring("postgres:\n".length())
            : postgres + extra;
    Path file = directory.resolve("synchronizer.yml");
    Files.writeString(file, text, StandardCharsets.UTF_8);
    return file;
  }

  private Configuration load(String extra) throws Exception {
    return new ConfigurationLoader(Map.of()).load(settings(extra));
  }

  private List<Problem> problems(String extra) throws Exception {
    Path file = settings(extra);
    Throwable failure = catchThrowable(() -> new ConfigurationLoader(Map.of()).load(file));
    assertThat(failure).isInstanceOf(ConfigurationException.class);
    return ((ConfigurationException) failure).problems();
  }
}
