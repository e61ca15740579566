package io.cachesync.preflight;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.Configuration;
import io.cachesync.config.PostgresTls;
import io.cachesync.config.Suggestion;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.source.DebeziumChangeSource;
import io.cachesync.source.PostgresConnector;
import io.cachesync.source.Publications;
import io.cachesync.source.SignalTable;
import io.cachesync.source.SqlIdentifier;
import io.cachesync.source.TlsNotOfferedException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Checks that PostgreSQL can feed the synchronizer: logical decoding, the right to replicate, a
 * free replication slot, and for each mapped table that it and its columns exist (none cached with
 * a name reserved for metadata), that deletes carry the key's columns, that the key's columns
 * identify one row, and that the publication can hold it.
 */
final class PostgresPreflight {
  private static final String SUBJECT = "postgres";

  /** Names cachesync gives the metadata inside cached values; no cached column may have one. */
  private static final String RESERVED_COLUMN_PREFIX = "__";

  private final SynchronizerSettings settings;
  private final List<TableMapping> tables;
  private final List<Finding> findings = new ArrayList<>();

  PostgresPreflight(Configuration configuration) {
    this.settings = configuration.settings();
    this.tables = configuration.mapping().tables();
  }

  List<Finding> run() throws ServerUnreachableException {
    try (Connection connection =
        new PostgresConnector(settings.postgres()).openForShortStatements("preflight")) {
      Role role = checkServer(connection);
      DebeziumChangeSource.urlProblem(settings.postgres())
          .ifPresent(problem -> findings.add(Finding.failed(SUBJECT, problem)));
      List<TableId> ownedByOthers = new ArrayList<>();
      for (TableMapping table : tables) {
        checkTable(connection, table, role).ifPresent(ownedByOthers::add);
      }
      checkSignalTable(connection, role).ifPresent(ownedByOthers::add);
      checkPublication(connection, role, ownedByOthers);
    } catch (SQLException e) {
      findings.add(Finding.failed(SUBJECT, loginProblem(e)));
    }
    return List.copyOf(findings);
  }

  /** What the login role may do. */
  private record Role(
      String name, boolean superuser, boolean replication, boolean createInDatabase) {}

  /** Where every fix of a missing right also points: the command that prints them all. */
  static final String GRANTS_FIX =
      "the statements `cachesync grants --postgres` prints (every right the configuration needs)";

  /** The schemas already reported for a missing USAGE right. */
  private final Set<String> schemasWithoutUsage = new LinkedHashSet<>();

  /** A right the login role lacks, named, with the statement that grants it. */
  private void lacks(String subject, Role role, String right, String on, String grant) {
    findings.add(
        Finding.failed(
            subject,
            "user "
                + role.name()
                + " needs "
                + right
                + " on "
                + on
                + "; run "
                + grant
                + " as a superuser, or "
                + GRANTS_FIX));
  }

  /** Reports, once per schema, that the role may not use it. */
  private void lacksUsage(Role role, String schema) {
    if (schemasWithoutUsage.add(schema)) {
      lacks(
          SUBJECT,
          role,
          "USAGE",
          "schema " + schema,
          "GRANT USAGE ON SCHEMA "
              + SqlIdentifier.quoted(schema)
              + " TO "
              + SqlIdentifier.quoted(role.name()));
    }
  }

  private Role checkServer(Connection connection) throws SQLException {
    String version = single(connection, "SHOW server_version").split(" ")[0];
    String walLevel = single(connection, "SHOW wal_level");
    if (Integer.parseInt(single(connection, "SHOW server_version_num")) < 130_000) {
      findings.add(
          Finding.failed(
              SUBJECT,
              "PostgreSQL "
                  + version
                  + " is too old; cachesync needs PostgreSQL 13 or later (loading an added table"
                  + " uses pg_current_snapshot())"));
    }
    if (walLevel.equals("logical")) {
      findings.add(
          Finding.ok(
              SUBJECT,
              "PostgreSQL "
                  + version
                  + " at "
                  + settings.postgres().address()
                  + ", wal_level is logical"));
    } else {
      findings.add(
          Finding.failed(
              SUBJECT,
              "wal_level is '"
                  + walLevel
                  + "'; logical decoding needs wal_level=logical: run ALTER SYSTEM SET wal_level ="
                  + " logical (or set it in postgresql.conf) and restart PostgreSQL"));
    }
    checkTls(connection);
    Role role;
    try (PreparedStatement statement =
            connection.prepareStatement(
                "SELECT current_user, rolsuper, rolreplication,"
                    + " has_database_privilege(current_database(), 'CREATE')"
                    + " FROM pg_roles WHERE rolname = current_user");
        ResultSet row = statement.executeQuery()) {
      row.next();
      role = new Role(row.getString(1), row.getBoolean(2), row.getBoolean(3), row.getBoolean(4));
    }
    if (role.superuser() || role.replication()) {
      findings.add(Finding.ok(SUBJECT, "user " + role.name() + " may replicate"));
    } else {
      findings.add(
          Finding.failed(
              SUBJECT,
              "user "
                  + role.name()
                  + " may not replicate (it needs REPLICATION); run ALTER ROLE "
                  + SqlIdentifier.quoted(role.name())
                  + " REPLICATION as a superuser (and allow it in pg_hba.conf)"));
    }
    checkSlot(connection);
    return role;
  }

  /** Whether the connection is encrypted, as the server sees it, and what TLS checked. */
  private void checkTls(Connection connection) throws SQLException {
    PostgresTls tls = settings.postgres().tls();
    String mode = "sslmode " + tls.sslmode().configName();
    try (PreparedStatement statement =
            connection.prepareStatement(
                "SELECT ssl, version, cipher, client_dn FROM pg_stat_ssl"
                    + " WHERE pid = pg_backend_pid()");
        ResultSet row = statement.executeQuery()) {
      if (row.next() && row.getBoolean(1)) {
        findings.add(
            Finding.ok(
                SUBJECT,
                "the connection is encrypted with "
                    + row.getString(2)
                    + " ("
                    + row.getString(3)
                    + "), "
                    + mode
                    + ": "
                    + checked(tls)
                    + (row.getString(4) == null
                        ? ""
                        : "; client certificate " + row.getString(4) + " sent")));
      } else if (tls.sslmode() == PostgresTls.SslMode.DISABLE) {
        findings.add(Finding.ok(SUBJECT, "the connection is not encrypted (" + mode + ")"));
      } else {
        findings.add(
            Finding.warning(
                SUBJECT,
                "the connection is not encrypted: the server does not offer TLS (ssl=off), and "
                    + mode
                    + " accepts that; to encrypt, set ssl=on in postgresql.conf and"
                    + " postgres.sslmode: verify-full"));
      }
    }
  }

  private String checked(PostgresTls tls) {
    String roots =
        tls.systemRoots()
            ? "a CA the Java runtime trusts"
            : "a CA in " + tls.sslrootcert().map(Object::toString).orElse("");
    return switch (tls.sslmode()) {
      case VERIFY_FULL ->
          "the server's certificate is signed by "
              + roots
              + " and names "
              + settings.postgres().host();
      case VERIFY_CA ->
          "the server's certificate is signed by " + roots + " (its host name is not checked)";
      default -> "the server's certificate is not checked (sslmode verify-full checks it)";
    };
  }

  private void checkSlot(Connection connection) throws SQLException {
    int maxSlots = Integer.parseInt(single(connection, "SHOW max_replication_slots"));
    int used = 0;
    Optional<String> ours = Optional.empty();
    try (PreparedStatement statement =
            connection.prepareStatement(
                "SELECT slot_name, coalesce(plugin, ''), coalesce(database, '') FROM pg_replication_slots");
        ResultSet rows = statement.executeQuery()) {
      while (rows.next()) {
        used++;
        if (rows.getString(1).equals(settings.slotName())) {
          ours = Optional.of(rows.getString(2) + "|" + rows.getString(3));
        }
      }
    }
    String slot = settings.slotName();
    if (ours.isPresent()) {
      String expected = "pgoutput|" + settings.postgres().database();
      if (ours.get().equals(expected)) {
        findings.add(
            Finding.ok(SUBJECT, "replication slot " + slot + " exists and will be resumed"));
      } else {
        findings.add(
            Finding.failed(
                SUBJECT,
                "replication slot "
                    + slot
                    + " exists but is not a pgoutput slot of database "
                    + settings.postgres().database()
                    + "; drop it (SELECT pg_drop_replication_slot('"
                    + slot
                    + "')) or choose another name"));
      }
    } else if (used >= maxSlots) {
      findings.add(
          Finding.failed(
              SUBJECT,
              "all "
                  + maxSlots
                  + " replication slots are in use; drop an unused one or raise max_replication_slots"
                  + " and restart PostgreSQL"));
    } else {
      findings.add(
          Finding.ok(
              SUBJECT,
              "replication slot "
                  + slot
                  + " will be created ("
                  + used
                  + " of "
                  + maxSlots
                  + " in use)"));
    }
  }

  /**
   * Checks one table.
   *
   * @return the table when the login role does not own it (it cannot add it to a publication)
   */
  private Optional<TableId> checkTable(Connection connection, TableMapping mapping, Role role)
      throws SQLException {
    TableId id = mapping.table();
    String subject = id.toString();
    long oid;
    char replicaIdentity;
    boolean owned;
    boolean partitioned;
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT c.oid, c.relreplident, has_table_privilege(c.oid, 'SELECT'),"
                + " pg_has_role(c.relowner, 'USAGE'), c.relkind = 'p',"
                + " has_schema_privilege(n.oid, 'USAGE')"
                + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relname = ? AND c.relkind IN ('r', 'p')")) {
      statement.setString(1, id.schema());
      statement.setString(2, id.table());
      try (ResultSet row = statement.executeQuery()) {
        if (!row.next()) {
          findings.add(
              Finding.failed(
                  subject,
                  "table does not exist in database "
                      + settings.postgres().database()
                      + tableHint(connection, id)));
          return Optional.empty();
        }
        oid = row.getLong(1);
        replicaIdentity = row.getString(2).charAt(0);
        if (!row.getBoolean(6)) {
          lacksUsage(role, id.schema());
        }
        if (!row.getBoolean(3)) {
          lacks(
              subject,
              role,
              "SELECT",
              id.toString(),
              "GRANT SELECT ON "
                  + SqlIdentifier.quoted(id)
                  + " TO "
                  + SqlIdentifier.quoted(role.name()));
        }
        owned = row.getBoolean(4);
        partitioned = row.getBoolean(5);
      }
    }
    Map<String, Boolean> columns = columns(connection, oid);
    boolean columnsExist = checkColumns(mapping, columns);
    if (columnsExist) {
      checkReplicaIdentity(connection, mapping, oid, replicaIdentity);
      checkKeyNamesOneRow(
          mapping,
          UniqueIndex.load(connection, oid),
          partitioned ? partitionKey(connection, oid) : List.of());
      checkKeyTypes(connection, mapping, oid);
    }
    return owned || role.superuser() ? Optional.empty() : Optional.of(id);
  }

  /**
   * Types a key column may have: those whose text in the key is one-to-one with the values the
   * column's unique index tells apart, so that two rows never render one key, and that the orphan
   * lookup reads back from that text (cast to the type, bytea decoded from base64).
   *
   * <ul>
   *   <li>int2, int4, int8: one decimal form per value.
   *   <li>text, varchar: the text itself. bpchar: values equal under its equality ('a' and 'a ')
   *       cannot both be in a unique index, so the one that exists has one key. citext: likewise,
   *       'A' and 'a' are equal, so only one exists.
   *   <li>numeric: 1.0 and 1.00 render differently but are equal, so only one can exist; its text
   *       keeps its scale and casts back to an equal value.
   *   <li>uuid (canonical lower-case form), bool, date; timestamp and timestamptz (one instant, one
   *       text, in UTC for timestamptz, and equality compares instants); enums (their label); bytea
   *       (base64 of the bytes).
   * </ul>
   *
   * Refused, among others: timetz ('10:00+02' and '08:00+00' are different values that render the
   * same instant), arrays ('{1,2}' and '[0:1]={1,2}' differ by their lower bound, render alike),
   * float4/float8, interval, money, bit, time, inet, json: their cached text is not proven to be
   * one-to-one under the index's equality, or not read back by the lookup. Domains are judged by
   * their base type.
   */
  static final Set<String> KEY_TYPES =
      Set.of(
          "int2",
          "int4",
          "int8",
          "text",
          "varchar",
          "bpchar",
          "citext",
          "numeric",
          "uuid",
          "bool",
          "date",
          "timestamp",
          "timestamptz",
          "bytea");

  private void checkKeyTypes(Connection connection, TableMapping mapping, long oid)
      throws SQLException {
    String subject = mapping.table().toString();
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), b.typname, b.typtype"
                + " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                + " JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype"
                + "   ELSE t.oid END"
                + " WHERE a.attrelid = ? AND a.attnum > 0 AND NOT a.attisdropped"
                + " ORDER BY a.attnum")) {
      statement.setLong(1, oid);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          String column = rows.getString(1);
          if (!mapping.key().columns().contains(column)) {
            continue;
          }
          String base = rows.getString(3);
          boolean enumeration = "e".equals(rows.getString(4));
          if (!enumeration && !KEY_TYPES.contains(base)) {
            findings.add(
                Finding.failed(
                    subject,
                    "key column "
                        + column
                        + " is of type "
                        + rows.getString(2)
                        + ", whose text in a key is not one-to-one with its values (two rows could"
                        + " share a key, or the orphan sweep could not find a key's row); key by"
                        + " columns of an integer, text, varchar, char, citext, numeric, uuid,"
                        + " boolean, date, timestamp, timestamptz, bytea or enum type"));
          }
        }
      }
    }
  }

  /** Column name to whether it is generated. */
  private static Map<String, Boolean> columns(Connection connection, long oid) throws SQLException {
    Map<String, Boolean> columns = new LinkedHashMap<>();
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT attname, attgenerated <> '' FROM pg_attribute"
                + " WHERE attrelid = ? AND attnum > 0 AND NOT attisdropped ORDER BY attnum")) {
      statement.setLong(1, oid);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          columns.put(rows.getString(1), rows.getBoolean(2));
        }
      }
    }
    return columns;
  }

  private boolean checkColumns(TableMapping mapping, Map<String, Boolean> columns) {
    String subject = mapping.table().toString();
    String all = String.join(", ", columns.keySet());
    boolean valid = true;
    for (String placeholder : mapping.key().columns()) {
      if (placeholder.startsWith(RESERVED_COLUMN_PREFIX)) {
        findings.add(
            Finding.failed(
                subject,
                "key column "
                    + placeholder
                    + " starts with '__', which cachesync reserves for the metadata it stores in"
                    + " cached values, and a key column is always cached with the row; rename the"
                    + " column (ALTER TABLE "
                    + subject
                    + " RENAME COLUMN "
                    + placeholder
                    + " TO "
                    + placeholder.replaceFirst("^_+", "")
                    + ") and its placeholder, or key by other columns"));
        valid = false;
      }
    }
    if (mapping.allColumns() && mapping.mode() == SyncMode.WRITE) {
      List<String> reserved =
          columns.keySet().stream()
              .filter(c -> c.startsWith(RESERVED_COLUMN_PREFIX))
              .filter(c -> !mapping.key().columns().contains(c))
              .toList();
      if (!reserved.isEmpty()) {
        List<String> others =
            columns.keySet().stream().filter(c -> !c.startsWith(RESERVED_COLUMN_PREFIX)).toList();
        findings.add(
            Finding.failed(
                subject,
                "column "
                    + String.join(", ", reserved)
                    + " of "
                    + subject
                    + " starts with '__', which cachesync reserves for the metadata it stores in"
                    + " cached values (__v is the version), so caching it would overwrite them;"
                    + " list the columns to cache without it: columns: ["
                    + String.join(", ", others)
                    + "]"));
        valid = false;
      }
    }
    for (String placeholder : mapping.key().columns()) {
      if (!columns.containsKey(placeholder)) {
        findings.add(
            Finding.failed(
                subject,
                "placeholder {"
                    + placeholder
                    + "} in key '"
                    + mapping.key()
                    + "' is not a column of "
                    + subject
                    + " (columns: "
                    + all
                    + ")"
                    + Suggestion.hint(placeholder, columns.keySet())));
        valid = false;
      }
    }
    for (String column : mapping.columns()) {
      if (!columns.containsKey(column)) {
        if (!mapping.key().columns().contains(column)) {
          findings.add(
              Finding.failed(
                  subject,
                  "column "
                      + column
                      + " in columns is not a column of "
                      + subject
                      + " (columns: "
                      + all
                      + ")"
                      + Suggestion.hint(column, columns.keySet())));
        }
        valid = false;
      } else if (columns.get(column)) {
        findings.add(
            Finding.failed(
                subject,
                "column "
                    + column
                    + " is generated, and PostgreSQL does not send generated columns to logical"
                    + " replication; remove it from columns"));
        valid = false;
      }
    }
    for (String placeholder : mapping.key().columns()) {
      if (Boolean.TRUE.equals(columns.get(placeholder))
          && !mapping.columns().contains(placeholder)) {
        findings.add(
            Finding.failed(
                subject,
                "key column "
                    + placeholder
                    + " is generated, and PostgreSQL does not send generated columns to logical"
                    + " replication; key by another column"));
        valid = false;
      }
    }
    return valid;
  }

  private void checkReplicaIdentity(
      Connection connection, TableMapping mapping, long oid, char identity) throws SQLException {
    TableId id = mapping.table();
    String subject = id.toString();
    String fullFix = "ALTER TABLE " + id + " REPLICA IDENTITY FULL";
    switch (identity) {
      case 'f' ->
          findings.add(Finding.ok(subject, "REPLICA IDENTITY FULL: deletes carry every column"));
      case 'n' ->
          findings.add(
              Finding.failed(
                  subject,
                  "REPLICA IDENTITY NOTHING: deletes carry no columns, so their keys cannot be"
                      + " evicted; run ALTER TABLE "
                      + id
                      + " REPLICA IDENTITY DEFAULT (with a primary key) or "
                      + fullFix));
      default -> {
        boolean primaryKey = identity == 'd';
        Set<String> identityColumns = identityColumns(connection, oid, primaryKey);
        String kind = primaryKey ? "primary key" : "replica identity index";
        if (identityColumns.isEmpty()) {
          findings.add(
              Finding.failed(
                  subject,
                  "no primary key, so deletes carry no key columns and their keys cannot be evicted;"
                      + " add a primary key, or run "
                      + fullFix));
          return;
        }
        Set<String> missing = new LinkedHashSet<>(mapping.key().columns());
        missing.removeAll(identityColumns);
        if (missing.isEmpty()) {
          findings.add(
              Finding.ok(
                  subject,
                  kind
                      + " ("
                      + String.join(", ", identityColumns)
                      + ") carries the key's columns on delete"));
        } else {
          findings.add(
              Finding.failed(
                  subject,
                  "key '"
                      + mapping.key()
                      + "' uses "
                      + String.join(", ", missing)
                      + ", which the "
                      + kind
                      + " ("
                      + String.join(", ", identityColumns)
                      + ") does not hold, so deletes and key changes would not carry it; key by the "
                      + kind
                      + " columns, or run "
                      + fullFix));
        }
      }
    }
  }

  /**
   * The key attributes of the primary key or replica identity index: its INCLUDE columns (after
   * {@code indnkeyatts} in {@code indkey}) are not in the replica identity, so deletes do not carry
   * them.
   */
  private static Set<String> identityColumns(Connection connection, long oid, boolean primaryKey)
      throws SQLException {
    return new LinkedHashSet<>(
        attributeNames(
            connection,
            "SELECT a.attname FROM pg_index i"
                + " JOIN LATERAL unnest(i.indkey[0:i.indnkeyatts - 1])"
                + "   WITH ORDINALITY AS k(attnum, position) ON true"
                + " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
                + " WHERE i.indrelid = ? AND "
                + (primaryKey ? "i.indisprimary" : "i.indisreplident")
                + " ORDER BY k.position",
            oid));
  }

  /** The columns of a partitioned table's partition key (none for an expression). */
  private static List<String> partitionKey(Connection connection, long oid) throws SQLException {
    return attributeNames(
        connection,
        "SELECT a.attname FROM pg_partitioned_table p"
            + " JOIN LATERAL unnest(p.partattrs) WITH ORDINALITY AS k(attnum, position) ON true"
            + " JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum"
            + " WHERE p.partrelid = ? ORDER BY k.position",
        oid);
  }

  /** The names {@code sql} selects, in order, for the table {@code oid} (its one parameter). */
  private static List<String> attributeNames(Connection connection, String sql, long oid)
      throws SQLException {
    List<String> names = new ArrayList<>();
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      statement.setLong(1, oid);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          names.add(rows.getString(1));
        }
      }
    }
    return names;
  }

  /**
   * Checks that no two rows can share a key: the key's columns must hold every column of the
   * primary key or of a unique index that proves uniqueness (see {@link UniqueIndex#doubt}).
   *
   * @param partitionKey the partition key's columns when the table is partitioned: PostgreSQL
   *     refuses a unique index there that does not hold them all
   */
  private void checkKeyNamesOneRow(
      TableMapping mapping, List<UniqueIndex> indexes, List<String> partitionKey) {
    String subject = mapping.table().toString();
    Set<String> keyColumns = mapping.key().columns();
    String intro = "key '" + mapping.key() + "' ";
    for (UniqueIndex index : indexes) {
      if (index.doubt(subject).isEmpty() && keyColumns.containsAll(index.columns())) {
        findings.add(
            Finding.ok(subject, intro + "names one row: it holds the " + index.describe()));
        return;
      }
    }
    List<String> reasons = new ArrayList<>();
    for (UniqueIndex index : indexes) {
      List<String> why = new ArrayList<>();
      Set<String> notInKey = new LinkedHashSet<>(index.columns());
      notInKey.removeAll(keyColumns);
      if (!notInKey.isEmpty()) {
        why.add("also has " + String.join(", ", notInKey) + ", which the key does not use");
      }
      index.doubt(subject).ifPresent(why::add);
      reasons.add("the " + index.describe() + " " + String.join(" and ", why));
    }
    String columns = String.join(", ", keyColumns);
    Set<String> indexable = new LinkedHashSet<>(partitionKey);
    indexable.removeAll(keyColumns);
    String fix =
        (indexable.isEmpty()
                ? "; add the missing columns to the key (every column of the primary key), or create"
                    + " a unique index on ("
                    + columns
                : "; add the missing columns to the key (every column of the primary key): "
                    + subject
                    + " is partitioned by "
                    + String.join(", ", partitionKey)
                    + ", and PostgreSQL refuses a unique index without every partition key column, so"
                    + " a key without "
                    + String.join(", ", indexable)
                    + " cannot be proven to name one row; with them, a unique index on ("
                    + String.join(", ", keyColumns)
                    + ", "
                    + String.join(", ", indexable))
            + ") over NOT NULL columns, neither partial nor over expressions";
    findings.add(
        Finding.failed(
            subject,
            intro
                + "is not proven to name exactly one row: "
                + (reasons.isEmpty()
                    ? subject
                        + " has no primary key and no unique index to prove that ("
                        + columns
                        + ") identifies a row"
                    : "nothing proves that ("
                        + columns
                        + ") identifies a row: "
                        + String.join("; ", reasons))
                + fix));
  }

  /**
   * The signal table (see SignalTable): cachesync creates it, or an administrator does ({@code
   * cachesync grants}); then the role needs USAGE on its schema and {@link SignalTable#PRIVILEGES}
   * on it.
   *
   * @return the table when the login role does not own it (it cannot add it to a publication)
   */
  private Optional<TableId> checkSignalTable(Connection connection, Role role) throws SQLException {
    TableId table = SignalTable.id(settings);
    boolean schemaExists;
    boolean schemaUsable = false;
    boolean schemaCreatable = false;
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT has_schema_privilege(oid, 'USAGE'), has_schema_privilege(oid, 'CREATE')"
                + " FROM pg_namespace WHERE nspname = ?")) {
      statement.setString(1, table.schema());
      try (ResultSet row = statement.executeQuery()) {
        schemaExists = row.next();
        if (schemaExists) {
          schemaUsable = row.getBoolean(1);
          schemaCreatable = row.getBoolean(2);
        }
      }
    }
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT has_table_privilege(c.oid, 'INSERT'), pg_has_role(c.relowner, 'USAGE')"
                + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = ? AND c.relname = ?")) {
      statement.setString(1, table.schema());
      statement.setString(2, table.table());
      try (ResultSet row = statement.executeQuery()) {
        if (row.next()) {
          boolean owned = row.getBoolean(2) || role.superuser();
          if (!schemaUsable && !role.superuser()) {
            lacksUsage(role, table.schema());
          }
          if (row.getBoolean(1)) {
            if (schemaUsable || role.superuser()) {
              findings.add(Finding.ok(SUBJECT, "signal table " + table + " exists"));
            }
          } else {
            lacks(
                SUBJECT,
                role,
                SignalTable.PRIVILEGES,
                "the signal table " + table,
                "GRANT "
                    + SignalTable.PRIVILEGES
                    + " ON "
                    + SqlIdentifier.quoted(table)
                    + " TO "
                    + SqlIdentifier.quoted(role.name()));
          }
          return owned ? Optional.empty() : Optional.of(table);
        }
      }
    }
    boolean mayCreate =
        role.superuser()
            || (schemaExists ? schemaUsable && schemaCreatable : role.createInDatabase());
    if (mayCreate) {
      findings.add(Finding.ok(SUBJECT, "signal table " + table + " will be created"));
      return Optional.empty();
    }
    findings.add(
        Finding.failed(
            SUBJECT,
            "the signal table "
                + table
                + " does not exist and user "
                + role.name()
                + " may not create it (it needs CREATE on "
                + (schemaExists ? "schema " + table.schema() : "database " + database())
                + "); have a superuser run "
                + GRANTS_FIX));
    return Optional.empty();
  }

  private String database() {
    return settings.postgres().database();
  }

  private void checkPublication(Connection connection, Role role, List<TableId> ownedByOthers)
      throws SQLException {
    String name = settings.publicationName();
    List<TableId> published = publishedTables();
    String tableList =
        published.stream().map(SqlIdentifier::quoted).collect(Collectors.joining(", "));
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT puballtables, pubinsert AND pubupdate AND pubdelete AND pubtruncate,"
                + " pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = ?")) {
      statement.setString(1, name);
      try (ResultSet row = statement.executeQuery()) {
        if (!row.next()) {
          boolean mayCreate =
              role.superuser() || (role.createInDatabase() && ownedByOthers.isEmpty());
          if (mayCreate) {
            findings.add(
                Finding.ok(
                    SUBJECT, "publication " + name + " will be created for the mapped tables"));
          } else {
            findings.add(
                Finding.failed(
                    SUBJECT,
                    "publication "
                        + name
                        + " does not exist and user "
                        + role.name()
                        + " may not create it (it needs CREATE on database "
                        + database()
                        + " and to own every table); have a superuser run CREATE PUBLICATION "
                        + name
                        + " FOR TABLE "
                        + tableList
                        + " "
                        + Publications.OPTIONS
                        + ", or "
                        + GRANTS_FIX));
          }
          return;
        }
        if (row.getBoolean(1)) {
          findings.add(
              Finding.failed(
                  SUBJECT,
                  "publication "
                      + name
                      + " publishes all tables, which makes UPDATE and DELETE fail on any table"
                      + " without a replica identity; run DROP PUBLICATION "
                      + name
                      + " and let cachesync create one of the mapped tables"));
          return;
        }
        if (!row.getBoolean(2)) {
          findings.add(
              Finding.failed(
                  SUBJECT,
                  "publication "
                      + name
                      + " does not publish every operation, so changes (or TRUNCATE) would be"
                      + " missed; run ALTER PUBLICATION "
                      + name
                      + " SET (publish = 'insert, update, delete, truncate'), or "
                      + GRANTS_FIX));
        }
        boolean ownsPublication = row.getBoolean(3) || role.superuser();
        List<TableId> missing = missingFromPublication(connection, name, published);
        String missingList =
            missing.stream().map(TableId::toString).collect(Collectors.joining(", "));
        if (missing.isEmpty()) {
          findings.add(Finding.ok(SUBJECT, "publication " + name + " holds every mapped table"));
        } else if (ownsPublication && missing.stream().noneMatch(ownedByOthers::contains)) {
          findings.add(
              Finding.ok(SUBJECT, "publication " + name + " will be extended with " + missingList));
        } else {
          findings.add(
              Finding.failed(
                  SUBJECT,
                  "publication "
                      + name
                      + " lacks "
                      + missingList
                      + " and user "
                      + role.name()
                      + " may not add them (it must own the publication and the tables); have a"
                      + " superuser run ALTER PUBLICATION "
                      + name
                      + " ADD TABLE "
                      + missing.stream()
                          .map(SqlIdentifier::quoted)
                          .collect(Collectors.joining(", "))
                      + ", or "
                      + GRANTS_FIX));
        }
      }
    }
  }

  /** The tables the publication must hold: the mapped tables and the signal table. */
  private List<TableId> publishedTables() {
    List<TableId> published = new ArrayList<>(tables.stream().map(TableMapping::table).toList());
    published.add(SignalTable.id(settings));
    return published;
  }

  private static List<TableId> missingFromPublication(
      Connection connection, String name, List<TableId> wanted) throws SQLException {
    Set<String> published = new LinkedHashSet<>();
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = ?")) {
      statement.setString(1, name);
      try (ResultSet rows = statement.executeQuery()) {
        while (rows.next()) {
          published.add(rows.getString(1) + "." + rows.getString(2));
        }
      }
    }
    return wanted.stream().filter(t -> !published.contains(t.toString())).toList();
  }

  private static String tableHint(Connection connection, TableId id) throws SQLException {
    List<String> names = new ArrayList<>();
    try (PreparedStatement statement =
            connection.prepareStatement(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                    + " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE c.relkind IN ('r', 'p')"
                    + " AND n.nspname NOT IN ('pg_catalog', 'information_schema')");
        ResultSet rows = statement.executeQuery()) {
      while (rows.next()) {
        names.add(rows.getString(1));
      }
    }
    return Suggestion.hint(id.toString(), names);
  }

  private String loginProblem(SQLException e) {
    if (e instanceof TlsNotOfferedException) {
      return e.getMessage();
    }
    String state = e.getSQLState() == null ? "" : e.getSQLState();
    String user = settings.postgres().user();
    String database = settings.postgres().database();
    if (state.startsWith("28")) {
      return "PostgreSQL at "
          + settings.postgres().address()
          + " refused the login of user "
          + user
          + ": "
          + e.getMessage()
          + "; check postgres.user and postgres.password (or passwordFile), and pg_hba.conf";
    }
    if (state.equals("3D000")) {
      return "database " + database + " does not exist; create it or fix postgres.database";
    }
    if (state.equals("42501")
        && String.valueOf(e.getMessage()).contains("permission denied for database")) {
      return "user "
          + user
          + " may not connect to database "
          + database
          + " ("
          + e.getMessage()
          + "): it needs CONNECT on database "
          + database
          + "; run GRANT CONNECT ON DATABASE "
          + SqlIdentifier.quoted(database)
          + " TO "
          + SqlIdentifier.quoted(user)
          + " as a superuser, or "
          + GRANTS_FIX;
    }
    return "check failed: " + e.getMessage() + " (SQLSTATE " + state + ")";
  }

  private static String single(Connection connection, String sql) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(sql);
        ResultSet row = statement.executeQuery()) {
      row.next();
      return row.getString(1);
    }
  }
}
