package io.cachesync.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cachesync.config.Configuration;
import io.cachesync.config.ConfigurationException;
import io.cachesync.grants.PostgresGrants;
import io.cachesync.grants.RedisAclGrant;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cachesync grants}: prints the least rights the configuration needs, for an administrator
 * to apply once; contacts no server.
 */
@Command(
    name = "grants",
    mixinStandardHelpOptions = true,
    description = {
      "Prints what the configured PostgreSQL role and Redis user need, and nothing more: SQL to run"
          + " with psql as a superuser (--postgres) and one ACL SETUSER line to run with redis-cli"
          + " (--redis), or both with headings. Contacts no server; run it again after changing"
          + " the mapping."
    })
final class GrantsCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "synchronizer.yml")
  Path config;

  @ArgGroup(exclusive = true)
  Target target = new Target();

  /** Which server's rights; both when neither is named. */
  static final class Target {
    @Option(
        names = "--postgres",
        description = "Only the SQL, for psql run by a superuser in postgres.database.")
    boolean postgres;

    @Option(names = "--redis", description = "Only the ACL SETUSER line, for redis-cli.")
    boolean redis;
  }

  @Option(names = "--json", description = "Print one JSON object (fields in the README).")
  boolean json;

  @Override
  public Integer call() throws ConfigurationException {
    Configuration configuration = ConfigurationFiles.load(config);
    LogLines.name(configuration.settings().name());
    boolean both = !target.postgres && !target.redis;
    PostgresGrants postgres = both || target.postgres ? PostgresGrants.of(configuration) : null;
    RedisAclGrant redis = both || target.redis ? RedisAclGrant.of(configuration) : null;
    PrintWriter err = spec.commandLine().getErr();
    if (redis != null) {
      redis.warnings().forEach(warning -> err.println("warning: " + warning));
      err.flush();
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(json(postgres, redis));
    } else if (both) {
      out.println("-- PostgreSQL (run with psql as a superuser)");
      out.print(postgres.script());
      out.println();
      out.println(
          configuration.settings().redis().cluster()
              ? "# Redis Cluster (run with redis-cli as an admin user on every node of the cluster)"
              : "# Redis (run with redis-cli as an admin user)");
      out.println(redis.line());
    } else if (postgres != null) {
      out.print(postgres.script());
    } else {
      out.println(redis.line());
    }
    out.flush();
    return ExitCode.OK;
  }

  private static String json(PostgresGrants postgres, RedisAclGrant redis) {
    ObjectNode root = JSON.createObjectNode();
    if (postgres != null) {
      ObjectNode node = root.putObject("postgres");
      node.put("role", postgres.role());
      node.put("database", postgres.database());
      postgres.statements().forEach(node.putArray("statements")::add);
    }
    if (redis != null) {
      ObjectNode node = root.putObject("redis");
      node.put("user", redis.arguments().get(2));
      node.put("line", redis.line());
      redis.arguments().forEach(node.putArray("arguments")::add);
      redis.warnings().forEach(node.putArray("warnings")::add);
    }
    return root.toString();
  }
}
