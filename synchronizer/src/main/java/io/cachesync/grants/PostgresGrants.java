package io.cachesync.grants;

import static java.util.Objects.requireNonNull;

import io.cachesync.config.Configuration;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.source.Publications;
import io.cachesync.source.SignalTable;
import io.cachesync.source.SqlIdentifier;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What a superuser runs once so that the login role of {@code postgres.user}, which exists with
 * {@code LOGIN REPLICATION} and owns nothing, can run cachesync: the right to connect, to use the
 * mapped tables' schemas and read the tables; and, created by the superuser since a role that owns
 * no table can create none of them, the {@code cachesync} schema, the signal table (which the role
 * may read and insert into) and the publication, exactly as cachesync would create them itself.
 * Nothing more: no superuser, no ownership. Every statement can run again: it grants what is
 * granted already, creates only what is missing, and sets the publication's tables to the mapped
 * ones.
 *
 * @param role {@code postgres.user}
 * @param database {@code postgres.database}, where the statements run
 * @param statements SQL statements, each ending with {@code ;}
 */
public record PostgresGrants(String role, String database, List<String> statements) {

  private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_]+");

  public PostgresGrants {
    requireNonNull(role, "role");
    requireNonNull(database, "database");
    statements = List.copyOf(statements);
  }

  public static PostgresGrants of(Configuration configuration) {
    return of(configuration.settings(), configuration.mapping().tables());
  }

  public static PostgresGrants of(SynchronizerSettings settings, List<TableMapping> mapping) {
    String database = settings.postgres().database();
    String role = settings.postgres().user();
    String to = " TO " + SqlIdentifier.quoted(role) + ";";
    List<TableId> tables = mapping.stream().map(TableMapping::table).toList();
    Set<String> schemas = new LinkedHashSet<>();
    tables.forEach(table -> schemas.add(table.schema()));
    TableId signals = SignalTable.id(settings);

    List<String> statements = new ArrayList<>();
    statements.add("GRANT CONNECT ON DATABASE " + SqlIdentifier.quoted(database) + to);
    for (String schema : schemas) {
      statements.add("GRANT USAGE ON SCHEMA " + SqlIdentifier.quoted(schema) + to);
    }
    for (TableId table : tables) {
      statements.add("GRANT SELECT ON TABLE " + SqlIdentifier.quoted(table) + to);
    }
    statements.add("CREATE SCHEMA IF NOT EXISTS " + SqlIdentifier.quoted(signals.schema()) + ";");
    statements.add("GRANT USAGE ON SCHEMA " + SqlIdentifier.quoted(signals.schema()) + to);
    statements.add(
        "CREATE TABLE IF NOT EXISTS "
            + SqlIdentifier.quoted(signals)
            + " "
            + SignalTable.COLUMNS
            + ";");
    statements.add(
        "GRANT " + SignalTable.PRIVILEGES + " ON TABLE " + SqlIdentifier.quoted(signals) + to);
    List<TableId> published = new ArrayList<>(tables);
    published.add(signals);
    statements.add(publication(settings.publicationName(), published));
    return new PostgresGrants(role, database, statements);
  }

  /**
   * Creates the publication when missing, as cachesync would ({@link Publications}); otherwise sets
   * its tables and options to those.
   */
  private static String publication(String name, List<TableId> tables) {
    String publication = SqlIdentifier.quoted(name);
    String list = tables.stream().map(SqlIdentifier::quoted).collect(Collectors.joining(", "));
    String body =
        "BEGIN\n"
            + "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = "
            + literal(name)
            + ") THEN\n"
            + "    CREATE PUBLICATION "
            + publication
            + " FOR TABLE "
            + list
            + " "
            + Publications.OPTIONS
            + ";\n"
            + "  ELSE\n"
            + "    ALTER PUBLICATION "
            + publication
            + " SET TABLE "
            + list
            + ";\n"
            + "    ALTER PUBLICATION "
            + publication
            + " SET "
            + Publications.OPTIONS.substring("WITH ".length())
            + ";\n"
            + "  END IF;\n"
            + "END\n";
    String tag = dollarTag(body);
    return "DO " + tag + "\n" + body + tag + ";";
  }

  /** A dollar quote's tag that the body does not contain (a table may be named with a $). */
  static String dollarTag(String body) {
    String tag = "$grants$";
    for (int i = 1; body.contains(tag); i++) {
      tag = "$grants" + i + "$";
    }
    return tag;
  }

  private static String literal(String text) {
    return "'" + text.replace("'", "''") + "'";
  }

  /** The statements with comments that say where and how to run them. */
  public String script() {
    String quotedRole = SqlIdentifier.quoted(role);
    String psql =
        PLAIN.matcher(database).matches()
            ? "cachesync grants --postgres --config FILE | psql -v ON_ERROR_STOP=1 -d " + database
            : "cachesync grants --postgres --config FILE | psql -v ON_ERROR_STOP=1 -d DATABASE";
    StringBuilder text = new StringBuilder();
    text.append("-- What PostgreSQL role ")
        .append(quotedRole)
        .append(" needs to run cachesync, in database ")
        .append(SqlIdentifier.quoted(database))
        .append(".\n")
        .append("-- Run as a superuser, in that database: ")
        .append(psql)
        .append('\n')
        .append(
            "-- The role must exist with LOGIN and REPLICATION; create it first if it does not:\n")
        .append("--   CREATE ROLE ")
        .append(quotedRole)
        .append(" LOGIN REPLICATION PASSWORD '...';\n")
        .append("-- Running this again is harmless; run it again after changing the mapping.\n");
    statements.forEach(statement -> text.append(statement).append('\n'));
    return text.toString();
  }
}
