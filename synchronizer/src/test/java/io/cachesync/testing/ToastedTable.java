package io.cachesync.testing;

import java.util.ArrayList;
import java.util.List;

/**
 * A table of every type Debezium can mark unavailable when an UPDATE leaves it out (an unchanged
 * value stored out of line): each column is {@code STORAGE EXTERNAL} (out of line, uncompressed)
 * and filled with a value of several kilobytes, so PostgreSQL stores it in the TOAST table.
 */
public final class ToastedTable {
  private ToastedTable() {}

  /** The extension and domains the columns use; run once per database. */
  public static final List<String> TYPES =
      List.of(
          "CREATE EXTENSION IF NOT EXISTS hstore",
          "CREATE DOMAIN long_text AS text",
          "CREATE DOMAIN int_list AS int[]",
          "CREATE DOMAIN document AS jsonb",
          "CREATE DOMAIN flag_bits AS varbit",
          "CREATE DOMAIN blob AS bytea",
          "CREATE TYPE labelled AS (label text, n int)");

  /** Each toastable column: its name, type and a value of several kilobytes. */
  public static final List<String[]> COLUMNS =
      List.of(
          column("body", "text", "repeat(md5('t'), 200)"),
          column("chars", "varchar", "repeat(md5('v'), 200)"),
          column("long_body", "long_text", "repeat(md5('d'), 200)"),
          column("raw", "bytea", "decode(repeat(md5('b'), 200), 'hex')"),
          column(
              "doc",
              "jsonb",
              "(SELECT jsonb_agg(jsonb_build_object('n', i, 'x', i / 4.0, 's', md5(i::text))) FROM"
                  + " generate_series(1, 100) i)"),
          column(
              "plain_json",
              "json",
              "(SELECT json_agg(json_build_object('n', i)) FROM generate_series(1, 300) i)"),
          column("wrapped_doc", "document", "jsonb_build_object('k', repeat('w', 5000))"),
          column(
              "pairs",
              "hstore",
              "(SELECT hstore(array_agg('k' || i), array_agg(md5(i::text))) FROM"
                  + " generate_series(1, 100) i)"),
          column("numbers", "int[]", "ARRAY(SELECT i FROM generate_series(1, 1000) i)"),
          column(
              "smalls", "smallint[]", "ARRAY(SELECT i::smallint FROM generate_series(1, 1500) i)"),
          column(
              "bigs", "bigint[]", "ARRAY(SELECT i * 10000000000 FROM generate_series(1, 500) i)"),
          column("decimals", "numeric[]", "ARRAY(SELECT i / 7.0 FROM generate_series(1, 300) i)"),
          column("reals", "float8[]", "ARRAY(SELECT i / 4.0 FROM generate_series(1, 500) i)"),
          column("flags", "boolean[]", "ARRAY(SELECT i % 2 = 0 FROM generate_series(1, 3000) i)"),
          column("words", "text[]", "ARRAY(SELECT md5(i::text) FROM generate_series(1, 100) i)"),
          column("names", "varchar[]", "ARRAY(SELECT md5(i::text) FROM generate_series(1, 100) i)"),
          column(
              "letters", "char(2)[]", "ARRAY(SELECT 'c' || i % 9 FROM generate_series(1, 1000) i)"),
          column(
              "docs",
              "jsonb[]",
              "ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 300) i)"),
          column(
              "plain_docs",
              "json[]",
              "ARRAY(SELECT json_build_object('n', i) FROM generate_series(1, 300) i)"),
          column(
              "raws",
              "bytea[]",
              "ARRAY(SELECT decode(md5(i::text), 'hex') FROM generate_series(1, 200) i)"),
          column(
              "idents",
              "uuid[]",
              "ARRAY(SELECT md5(i::text)::uuid FROM generate_series(1, 200) i)"),
          column(
              "days",
              "date[]",
              "ARRAY(SELECT '2026-01-01'::date + i FROM generate_series(1, 1000) i)"),
          column(
              "stamps",
              "timestamp[]",
              "ARRAY(SELECT '2026-01-01 00:00:00.000001'::timestamp + i * interval '1 second' FROM"
                  + " generate_series(1, 500) i)"),
          column(
              "zoned_stamps",
              "timestamptz[]",
              "ARRAY(SELECT '2026-01-01 00:00:00.5+00'::timestamptz + i * interval '1 second' FROM"
                  + " generate_series(1, 500) i)"),
          column(
              "addresses",
              "inet[]",
              "ARRAY(SELECT ('10.0.' || i / 256 || '.' || i % 256)::inet FROM generate_series(1, 300) i)"),
          column("wrapped_numbers", "int_list", "ARRAY(SELECT i FROM generate_series(1, 1000) i)"),
          column("big_number", "numeric", "(repeat('9', 3000) || '.5')::numeric"),
          column("markup", "xml", "('<a>' || repeat(md5('x'), 200) || '</a>')::xml"),
          column("long_bits", "varbit", "repeat('10', 10000)::varbit"),
          column("long_flag_bits", "flag_bits", "repeat('10', 10000)::varbit"),
          column(
              "word_grid",
              "text[]",
              "ARRAY(SELECT ARRAY[md5(i::text), md5((i + 1)::text)] FROM generate_series(1, 100) i)"),
          column(
              "number_grid", "int[]", "ARRAY(SELECT ARRAY[i, -i] FROM generate_series(1, 1000) i)"),
          column("wide_bits", "bit(30000)", "repeat('01', 15000)::bit(30000)"),
          column(
              "words_vector",
              "tsvector",
              "(SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 200) i)::tsvector"),
          // Through cachesync's converter (bytea, geometric) or as the text of a type Debezium
          // does not know (multirange, composite).
          column("wrapped_raw", "blob", "decode(repeat(md5('w'), 200), 'hex')"),
          column(
              "shape",
              "polygon",
              "(SELECT ('(' || string_agg('(' || i || ',' || i * 2 || ')', ',') || ')')::polygon"
                  + " FROM generate_series(1, 300) i)"),
          column(
              "route",
              "path",
              "(SELECT ('[' || string_agg('(' || i || ',' || i / 3.0 || ')', ',') || ']')::path"
                  + " FROM generate_series(1, 300) i)"),
          column(
              "spans",
              "int4multirange",
              "(SELECT range_agg(int4range(i * 3, i * 3 + 1)) FROM generate_series(1, 600) i)"),
          column("labelled", "labelled", "ROW(repeat('l', 5000), 1)::labelled"));

  private static String[] column(String name, String type, String value) {
    return new String[] {name, type, value};
  }

  /** CREATE TABLE {@code table}, its columns stored out of line, with the replica identity. */
  public static List<String> create(String table, String replicaIdentity) {
    StringBuilder create =
        new StringBuilder("CREATE TABLE ").append(table).append(" (id int PRIMARY KEY, label text");
    for (String[] column : COLUMNS) {
      create.append(", ").append(column[0]).append(' ').append(column[1]);
    }
    List<String> statements = new ArrayList<>();
    statements.add(create.append(')').toString());
    for (String[] column : COLUMNS) {
      statements.add(
          "ALTER TABLE " + table + " ALTER COLUMN " + column[0] + " SET STORAGE EXTERNAL");
    }
    statements.add("ALTER TABLE " + table + " REPLICA IDENTITY " + replicaIdentity);
    return statements;
  }

  /** INSERT of row {@code id} with label {@code label} and every toastable column filled. */
  public static String insert(String table, int id, String label) {
    StringBuilder names = new StringBuilder("id, label");
    StringBuilder values = new StringBuilder(id + ", '" + label + "'");
    for (String[] column : COLUMNS) {
      names.append(", ").append(column[0]);
      values.append(", ").append(column[2]);
    }
    return "INSERT INTO " + table + " (" + names + ") VALUES (" + values + ")";
  }

  /** A query of the name of {@code table}'s TOAST table. */
  public static String toastTable(String table) {
    return "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = '"
        + table
        + "'::regclass";
  }
}
