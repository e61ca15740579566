package io.cachesync.grants;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.Configuration;
import io.cachesync.config.PostgresSettings;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.Mapping;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.RedisRights;
import io.cachesync.redis.RedisRights.Command;
import io.cachesync.redis.RedisRights.KeyPattern;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The one ACL SETUSER line {@code cachesync grants --redis} prints. */
class RedisAclGrantTest {

  private static RedisAclGrant grant(String uri, String... tablesAndKeys) {
    List<TableMapping> tables = new ArrayList<>();
    for (int i = 0; i < tablesAndKeys.length; i += 2) {
      tables.add(
          new TableMapping(
              TableId.parse(tablesAndKeys[i]),
              KeyTemplate.parse(tablesAndKeys[i + 1]),
              TableMapping.DEFAULT_FORMAT,
              TableMapping.DEFAULT_MODE,
              List.of(),
              Optional.empty()));
    }
    SynchronizerSettings settings =
        new SynchronizerSettings(
            "shop",
            new PostgresSettings("127.0.0.1", 5432, "shop", "cachesync", Optional.empty()),
            new RedisSettings(uri),
            Path.of("mapping.yml"));
    return RedisAclGrant.of(RedisRights.of(settings, tables));
  }

  @Test
  void line_addsCommandsKeyPatternsAndTheChannel_toTheUriUser() {
    RedisAclGrant grant =
        grant("redis://cs:Secret-pw-2@127.0.0.1:6379", "public.users", "user:{id}");

    assertThat(grant.line())
        .startsWith("ACL SETUSER cs +evalsha +eval +script|load +multi +exec")
        .contains(" +client|kill ")
        .endsWith(" ~user:* ~cachesync:shop:* &cachesync:shop:applied")
        .doesNotContain("Secret-pw-2");
    assertThat(grant.warnings()).isEmpty();
  }

  @Test
  void of_cluster_grantsTheClusterCommandsAndKeysAndSaysToRunItOnEveryNode() {
    SynchronizerSettings settings =
        new SynchronizerSettings(
            "shop",
            new PostgresSettings("127.0.0.1", 5432, "shop", "cachesync", Optional.empty()),
            new RedisSettings("redis-cluster://cs:pw@10.0.0.1:7000,10.0.0.2:7000"),
            Path.of("mapping.yml"));
    Configuration configuration =
        new Configuration(
            Path.of("synchronizer.yml"),
            settings,
            new Mapping(
                List.of(
                    new TableMapping(
                        TableId.parse("public.users"),
                        KeyTemplate.parse("user:{id}"),
                        TableMapping.DEFAULT_FORMAT,
                        TableMapping.DEFAULT_MODE,
                        List.of(),
                        Optional.empty()))));

    RedisAclGrant grant = RedisAclGrant.of(configuration);

    assertThat(grant.line())
        .startsWith("ACL SETUSER cs +evalsha ")
        .contains(" +cluster|nodes +cluster|info +client|setname ")
        .endsWith(" ~user:* ~{cachesync:shop}:* ~cachesync:shop:shard:* &{cachesync:shop}:applied")
        .doesNotContain("+select")
        .doesNotContain("pw");
    assertThat(grant.warnings())
        .singleElement()
        .asString()
        .startsWith("redis.uri names a Redis Cluster: run this line on every node of the cluster,")
        .contains("masters and replicas alike");
  }

  @Test
  void line_neverResetsTheUserNorTouchesItsPasswords() {
    List<String> words = grant("redis://cs:pw@127.0.0.1", "public.users", "user:{id}").arguments();

    assertThat(words.subList(3, words.size()))
        .allMatch(word -> word.startsWith("+") || word.startsWith("~") || word.startsWith("&"))
        .noneMatch(word -> word.contains("reset") || word.equals("on") || word.equals("off"));
    assertThat(String.join(" ", words)).doesNotContain(">").doesNotContain("nopass");
  }

  @Test
  void line_uriWithoutUser_grantsTheDefaultUserCommandsOnly() {
    for (String uri : List.of("redis://:pw@127.0.0.1", "redis://127.0.0.1")) {
      RedisAclGrant grant = grant(uri, "public.users", "user:{id}");

      // The default user has ~* and &*: Redis refuses a pattern added to them.
      assertThat(grant.line())
          .startsWith("ACL SETUSER default +")
          .doesNotContain("~")
          .doesNotContain("&");
      assertThat(grant.warnings())
          .singleElement()
          .asString()
          .contains("already reads and writes every key and channel (~* &*)")
          .contains("redis://cachesync@host:port");
    }
  }

  @Test
  void line_whiteSpaceInAPrefix_isMatchedByAQuestionMarkAndWarned() {
    RedisAclGrant grant = grant("redis://cs:pw@127.0.0.1", "public.users", "user profile:{id}");

    assertThat(grant.arguments()).contains("~user?profile:*");
    assertThat(grant.warnings()).anySatisfy(w -> assertThat(w).contains("holds white space"));
  }

  @Test
  void line_globCharactersInAPrefix_areEscapedAndQuotedForRedisCli() {
    RedisAclGrant grant = grant("redis://cs:pw@127.0.0.1", "public.lines", "ol[*]?:{id}");

    assertThat(grant.arguments()).contains("~ol\\[\\*\\]\\?:*");
    assertThat(grant.line()).contains(" \"~ol\\\\[\\\\*\\\\]\\\\?:*\" ");
    assertThat(redisCliWords(grant.line())).isEqualTo(grant.arguments());
  }

  @Test
  void line_templateStartingWithAPlaceholder_grantsEveryKeyAndWarns() {
    RedisRights rights =
        new RedisRights(
            "cs",
            List.of(new Command("evalsha", "scripts")),
            List.of(new KeyPattern("*", "public.users", "x", true)),
            List.of("cachesync:shop:applied"));

    RedisAclGrant grant = RedisAclGrant.of(rights);

    assertThat(grant.line()).isEqualTo("ACL SETUSER cs +evalsha ~* &cachesync:shop:applied");
    assertThat(grant.warnings())
        .singleElement()
        .asString()
        .contains("public.users starts with a placeholder")
        .contains("every key");
  }

  @Test
  void word_quotesWhatRedisCliWouldSplitOrMisread() {
    assertThat(RedisAclGrant.word("~user:*")).isEqualTo("~user:*");
    assertThat(RedisAclGrant.word("~my key:*")).isEqualTo("\"~my key:*\"");
    assertThat(RedisAclGrant.word("o'brien")).isEqualTo("\"o'brien\"");
    assertThat(RedisAclGrant.word("say\"hi\"")).isEqualTo("\"say\\\"hi\\\"\"");
    assertThat(RedisAclGrant.word("a\\b")).isEqualTo("\"a\\\\b\"");
    assertThat(RedisAclGrant.word("~café:*")).isEqualTo("\"~caf\\xc3\\xa9:*\"");
    assertThat(RedisAclGrant.word("tab\there")).isEqualTo("\"tab\\x09here\"");
    assertThat(RedisAclGrant.word("")).isEqualTo("\"\"");
    for (String word : List.of("~my key:*", "o'brien", "say\"hi\"", "a\\b", "~café:*", "")) {
      assertThat(redisCliWords(RedisAclGrant.word(word))).containsExactly(word);
    }
  }

  /**
   * The words redis-cli reads from a line (sdssplitargs in Redis's sds.c): separated by spaces, a
   * double-quoted word with \\xHH, \\" and \\\\ escapes; only what {@link RedisAclGrant#word}
   * writes.
   */
  private static List<String> redisCliWords(String line) {
    List<String> words = new ArrayList<>();
    int i = 0;
    while (i < line.length()) {
      while (i < line.length() && line.charAt(i) == ' ') {
        i++;
      }
      if (i == line.length()) {
        break;
      }
      ByteArrayOutputStream word = new ByteArrayOutputStream();
      if (line.charAt(i) == '"') {
        i++;
        while (line.charAt(i) != '"') {
          char c = line.charAt(i);
          if (c == '\\' && line.charAt(i + 1) == 'x') {
            word.write(Integer.parseInt(line.substring(i + 2, i + 4), 16));
            i += 4;
          } else if (c == '\\') {
            word.write(line.charAt(i + 1));
            i += 2;
          } else {
            word.write(c);
            i++;
          }
        }
        i++;
      } else {
        while (i < line.length() && line.charAt(i) != ' ') {
          word.write(line.charAt(i++));
        }
      }
      words.add(word.toString(StandardCharsets.UTF_8));
    }
    return words;
  }
}
