package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.config.PostgresSettings;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.KeyTemplate;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.RedisRights.Command;
import io.cachesync.redis.RedisRights.KeyPattern;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** What the Redis user needs, derived from the configuration without a server. */
class RedisRightsTest {

  static SynchronizerSettings settings(String uri, int waitReplicas) {
    return new SynchronizerSettings(
        "shop",
        new PostgresSettings("127.0.0.1", 5432, "shop", "cachesync", Optional.empty()),
        new RedisSettings(uri, waitReplicas),
        Path.of("mapping.yml"));
  }

  static TableMapping table(String table, String key) {
    return new TableMapping(
        TableId.parse(table),
        KeyTemplate.parse(key),
        TableMapping.DEFAULT_FORMAT,
        TableMapping.DEFAULT_MODE,
        List.of(),
        Optional.empty());
  }

  private static RedisRights rights(String uri) {
    return RedisRights.of(settings(uri, 0), List.of(table("public.users", "user:{id}")));
  }

  private static List<String> names(RedisRights rights) {
    return rights.commands().stream().map(Command::name).toList();
  }

  @Test
  void user_uriWithUserAndPassword_isThatUser() {
    assertThat(rights("redis://cs:pw@127.0.0.1:6379").user()).isEqualTo("cs");
    assertThat(rights("rediss://app-cache:pw@redis.example.org").user()).isEqualTo("app-cache");
    assertThat(rights("redis-sentinel://cs:pw@127.0.0.1:26379#mymaster").user()).isEqualTo("cs");
  }

  @Test
  void user_uriWithoutUser_isDefault() {
    assertThat(rights("redis://127.0.0.1:6379").user()).isEqualTo("default");
    assertThat(rights("redis://:pw@127.0.0.1:6379").user()).isEqualTo("default");
    assertThat(rights("redis://pw@127.0.0.1:6379").user()).isEqualTo("default");
    assertThat(rights("redis-sentinel://127.0.0.1:26379#mymaster").user()).isEqualTo("default");
  }

  @Test
  void commands_databaseZeroAndNoWait_needNeitherSelectNorWait() {
    assertThat(names(rights("redis://127.0.0.1:6379/0")))
        .contains("evalsha", "eval", "script|load", "client|kill", "scan", "publish")
        .doesNotContain("select", "wait", "config|get", "hello", "auth", "client|setinfo");
  }

  @Test
  void commands_otherDatabaseAndWaitReplicas_needSelectAndWait() {
    RedisRights rights =
        RedisRights.of(
            settings("redis://127.0.0.1:6379/3", 1), List.of(table("public.users", "user:{id}")));

    assertThat(names(rights)).contains("select", "wait");
  }

  @Test
  void cluster_seedsUser_clusterCommandsAndTheStateAndShardKeys_neverSelect() {
    RedisRights rights =
        RedisRights.of(
            settings("redis-cluster://cs:pw@10.0.0.1:7000,10.0.0.2:7001/0", 1),
            List.of(table("public.users", "user:{id}")));

    assertThat(rights.user()).isEqualTo("cs");
    assertThat(names(rights))
        .contains("cluster|nodes", "cluster|info", "client|setname", "info", "evalsha", "wait")
        .doesNotContain("select", "cluster|slots", "cluster|shards");
    assertThat(rights.commands())
        .filteredOn(c -> c.name().equals("info"))
        .singleElement()
        .extracting(Command::use)
        .asString()
        .contains("the cluster client's topology");
    assertThat(rights.keyPatterns())
        .extracting(KeyPattern::pattern, KeyPattern::owner)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("user:*", "public.users"),
            org.assertj.core.groups.Tuple.tuple("{cachesync:shop}:*", RedisRights.STATE),
            org.assertj.core.groups.Tuple.tuple("cachesync:shop:shard:*", RedisRights.STATE));
    assertThat(rights.channels()).containsExactly("{cachesync:shop}:applied");
    for (KeyPattern pattern : rights.keyPatterns()) {
      assertThat(pattern.sample()).startsWith(pattern.pattern().replace("*", ""));
    }
  }

  @Test
  void cluster_uriWithoutUser_isDefault() {
    assertThat(rights("redis-cluster://127.0.0.1:7000,127.0.0.1:7001").user()).isEqualTo("default");
    assertThat(rights("rediss-cluster://:pw@127.0.0.1:7000").user()).isEqualTo("default");
  }

  @Test
  void oneMaster_noClusterCommands() {
    assertThat(names(rights("redis://127.0.0.1:6379")))
        .doesNotContain("cluster|nodes", "cluster|info", "client|setname");
    assertThat(rights("redis://127.0.0.1:6379").keyPatterns())
        .extracting(KeyPattern::pattern)
        .containsExactly("user:*", "cachesync:shop:*");
  }

  @Test
  void keyPatterns_eachTablesLiteralPrefixThenTheState() {
    RedisRights rights =
        RedisRights.of(
            settings("redis://127.0.0.1", 0),
            List.of(
                table("public.users", "user:{id}"),
                table("public.OrderLines", "order:{order_id}:line:{line}")));

    assertThat(rights.keyPatterns())
        .extracting(KeyPattern::pattern, KeyPattern::owner, KeyPattern::broad)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("user:*", "public.users", false),
            org.assertj.core.groups.Tuple.tuple("order:*", "public.OrderLines", false),
            org.assertj.core.groups.Tuple.tuple("cachesync:shop:*", RedisRights.STATE, false));
    assertThat(rights.channels()).containsExactly("cachesync:shop:applied");
    for (KeyPattern pattern : rights.keyPatterns()) {
      assertThat(pattern.sample()).startsWith(pattern.pattern().replace("*", ""));
    }
  }

  @Test
  void keyPattern_globCharactersInThePrefix_areEscaped() {
    KeyPattern pattern = RedisRights.pattern(KeyTemplate.parse("a*b?[c]\\d:{id}"), "public.odd");

    assertThat(pattern.pattern()).isEqualTo("a\\*b\\?\\[c\\]\\\\d:*");
    assertThat(pattern.sample()).startsWith("a*b?[c]\\d:");
    assertThat(pattern.broad()).isFalse();
  }

  @Test
  void keyPattern_templateStartingWithAPlaceholder_coversEveryKey() {
    KeyTemplate placeholderFirst =
        new KeyTemplate(
            "{id}:user",
            List.of(new KeyTemplate.Placeholder("id"), new KeyTemplate.Literal(":user")));

    KeyPattern pattern = RedisRights.pattern(placeholderFirst, "public.users");

    assertThat(pattern.pattern()).isEqualTo("*");
    assertThat(pattern.broad()).isTrue();
  }

  /** A command a Lua script runs that the rights miss would fail the stream at its first batch. */
  @Test
  void commands_holdEveryCommandTheLuaScriptsRun() throws IOException {
    Set<String> called = new TreeSet<>();
    Pattern call = Pattern.compile("redis\\.p?call\\('([A-Za-z]+)'");
    for (String script :
        List.of(
            "clear_truncate",
            "evict",
            "hold_writer",
            "load_hash",
            "load_json",
            "record_truncate",
            "release_writer",
            "requeue_resyncs",
            "restore_position",
            "store_position",
            "take_resync",
            "version",
            "write_hash",
            "write_json")) {
      Matcher matcher = call.matcher(WriterScripts.resource(script + ".lua"));
      while (matcher.find()) {
        called.add(matcher.group(1).toLowerCase());
      }
    }
    // On a cluster's masters: the row scripts wrapped, and the shard's position scripts.
    Set<String> calledOnCluster = new TreeSet<>(called);
    for (String script : ShardScripts.NAMES) {
      Matcher matcher = call.matcher(ShardScripts.text(script));
      while (matcher.find()) {
        calledOnCluster.add(matcher.group(1).toLowerCase());
      }
    }

    assertThat(called).hasSizeGreaterThan(10);
    assertThat(names(rights("redis://127.0.0.1"))).containsAll(called);
    assertThat(names(rights("redis-cluster://127.0.0.1:7000"))).containsAll(calledOnCluster);
  }

  @Test
  void probes_existForEveryCommandThatMayBeNeeded() {
    RedisRights rights =
        RedisRights.of(
            settings("redis://127.0.0.1/2", 1), List.of(table("public.users", "user:{id}")));

    RedisRights onCluster =
        RedisRights.of(
            settings("redis-cluster://127.0.0.1:7000", 1),
            List.of(table("public.users", "user:{id}")));
    Set<String> needed = new TreeSet<>(names(rights));
    needed.addAll(names(onCluster));

    assertThat(AclProbe.probes("cachesync:shop:preflight:x:", "c", () -> "0").keySet())
        .containsExactlyInAnyOrderElementsOf(needed);
  }

  @Test
  void classify_readsEachFormOfRedissRefusal() {
    assertThat(AclProbe.classify("NOPERM this user has no permissions to run the 'hkeys' command"))
        .isEqualTo(AclProbe.Answer.COMMAND_REFUSED);
    assertThat(
            AclProbe.classify("NOPERM User cs has no permissions to run the 'randomkey' command"))
        .isEqualTo(AclProbe.Answer.COMMAND_REFUSED);
    assertThat(
            AclProbe.classify(
                "EXECABORT Transaction discarded because of: NOPERM this user has no permissions"
                    + " to run the 'exec' command"))
        .isEqualTo(AclProbe.Answer.COMMAND_REFUSED);
    assertThat(
            AclProbe.classify(
                "NOPERM this user has no permissions to access one of the keys used as arguments"))
        .isEqualTo(AclProbe.Answer.KEY_REFUSED);
    assertThat(AclProbe.classify("NOPERM No permissions to access a key"))
        .isEqualTo(AclProbe.Answer.KEY_REFUSED);
    assertThat(
            AclProbe.classify(
                "NOPERM this user has no permissions to access one of the channels used as"
                    + " arguments"))
        .isEqualTo(AclProbe.Answer.CHANNEL_REFUSED);
    assertThat(AclProbe.classify("NOSCRIPT No matching script. Please use EVAL."))
        .isEqualTo(AclProbe.Answer.ALLOWED);
    assertThat(AclProbe.classify("ERR EXEC without MULTI")).isEqualTo(AclProbe.Answer.ALLOWED);
  }
}
