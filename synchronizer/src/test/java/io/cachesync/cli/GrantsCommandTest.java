package io.cachesync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.testing.CommandRun;
import io.cachesync.testing.ConfigFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cachesync grants} prints from the configuration alone, contacting no server. */
class GrantsCommandTest {
  private static final String MAPPING =
      "tables:\n  - table: public.users\n    key: \"user:{id}\"\n";

  @TempDir Path directory;

  /** A configuration whose servers do not exist: grants must not need them. */
  private Path config(String mapping) {
    return ConfigFiles.write(
        directory,
        "shop",
        "host: 127.0.0.1\nport: 1\ndatabase: shop\nuser: cachesync\npassword: Pg-secret-3\n",
        "redis://cs:Redis-secret-4@127.0.0.1:1",
        mapping);
  }

  @Test
  void grants_noFlag_printsBothUnderHeadings() {
    CommandRun run = CommandRun.of("grants", "--config", config(MAPPING).toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out())
        .startsWith("-- PostgreSQL (run with psql as a superuser)\n")
        .contains("GRANT SELECT ON TABLE \"public\".\"users\" TO \"cachesync\";")
        .contains("\n# Redis (run with redis-cli as an admin user)\nACL SETUSER cs +evalsha ");
    assertThat(run.output()).doesNotContain("Pg-secret-3").doesNotContain("Redis-secret-4");
  }

  @Test
  void grants_postgres_printsOnlySql() {
    CommandRun run = CommandRun.of("grants", "--postgres", "--config", config(MAPPING).toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out().lines())
        .allMatch(
            line ->
                line.startsWith("--")
                    || line.startsWith("GRANT ")
                    || line.startsWith("CREATE ")
                    || !line.contains("ACL"));
    assertThat(run.out()).doesNotContain("ACL SETUSER").doesNotContain("# Redis");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void grants_redis_printsExactlyOneLine() {
    CommandRun run = CommandRun.of("grants", "--redis", "--config", config(MAPPING).toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out().lines()).singleElement().asString().startsWith("ACL SETUSER cs +");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void grants_bothFlags_isAUsageError() {
    CommandRun run =
        CommandRun.of("grants", "--postgres", "--redis", "--config", config(MAPPING).toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(run.err()).contains("mutually exclusive");
  }

  @Test
  void grants_invalidConfiguration_exitsTwoNamingTheProblem() throws Exception {
    Path config = config("tables:\n  - table: public.users\n    key: \"user:{id\"\n");

    CommandRun run = CommandRun.of("grants", "--config", config.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCode.INVALID);
    assertThat(run.output()).contains("mapping.yml:3").contains("unclosed '{'");
    assertThat(run.out()).doesNotContain("GRANT");
  }

  @Test
  void grants_json_holdsTheStatementsAndTheArguments() throws Exception {
    CommandRun run = CommandRun.of("grants", "--json", "--config", config(MAPPING).toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    JsonNode json = new ObjectMapper().readTree(run.out());
    assertThat(json.path("postgres").path("role").asText()).isEqualTo("cachesync");
    assertThat(json.path("postgres").path("database").asText()).isEqualTo("shop");
    assertThat(json.path("postgres").path("statements").get(0).asText())
        .isEqualTo("GRANT CONNECT ON DATABASE \"shop\" TO \"cachesync\";");
    assertThat(json.path("redis").path("user").asText()).isEqualTo("cs");
    assertThat(json.path("redis").path("arguments").get(3).asText()).isEqualTo("+evalsha");
    assertThat(json.path("redis").path("line").asText()).startsWith("ACL SETUSER cs ");
    assertThat(json.path("redis").path("warnings").isArray()).isTrue();
  }

  @Test
  void grants_sentinelUri_warnsThatSentinelsOwnUsersAreNotCovered() throws Exception {
    Path config = config(MAPPING);
    Files.writeString(
        config,
        Files.readString(config)
            .replace("redis://cs:Redis-secret-4@127.0.0.1:1", "redis-sentinel://127.0.0.1:1#m"));

    CommandRun run = CommandRun.of("grants", "--redis", "--config", config.toString());

    assertThat(run.exitCode()).as(run.output()).isEqualTo(ExitCode.OK);
    assertThat(run.out()).startsWith("ACL SETUSER default +");
    assertThat(run.err()).startsWith("warning: ").contains("Sentinels' own users are not covered");
  }

  @Test
  void grants_clusterUri_saysToRunTheLineOnEveryNode() throws Exception {
    Path config = config(MAPPING);
    Files.writeString(
        config,
        Files.readString(config)
            .replace(
                "redis://cs:Redis-secret-4@127.0.0.1:1",
                "redis-cluster://cs:Redis-secret-4@127.0.0.1:1,127.0.0.1:2"));

    CommandRun redisOnly = CommandRun.of("grants", "--redis", "--config", config.toString());
    CommandRun both = CommandRun.of("grants", "--config", config.toString());

    assertThat(redisOnly.exitCode()).as(redisOnly.output()).isEqualTo(ExitCode.OK);
    assertThat(redisOnly.out().lines())
        .singleElement()
        .asString()
        .startsWith("ACL SETUSER cs +")
        .contains(" +cluster|nodes ")
        .contains(" ~{cachesync:shop}:* ~cachesync:shop:shard:* ");
    assertThat(redisOnly.err())
        .startsWith("warning: redis.uri names a Redis Cluster: run this line on every node");
    assertThat(both.exitCode()).as(both.output()).isEqualTo(ExitCode.OK);
    assertThat(both.out())
        .contains(
            "\n# Redis Cluster (run with redis-cli as an admin user on every node of the cluster)"
                + "\nACL SETUSER cs +evalsha ");
    assertThat(both.output()).doesNotContain("Redis-secret-4");
  }
}
