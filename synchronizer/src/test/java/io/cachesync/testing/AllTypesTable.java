package io.cachesync.testing;

import java.util.List;

/**
 * A table holding every column type cachesync supports, with rows of ordinary, extreme and NULL
 * values: the fixture that the stream and the JDBC readers (verify, the orphan sweep) must encode
 * alike.
 */
public final class AllTypesTable {
  private AllTypesTable() {}

  /** The extension, types and domains the table's columns use; run once per database. */
  public static final List<String> TYPES =
      List.of(
          "CREATE EXTENSION IF NOT EXISTS hstore",
          "CREATE TYPE mood AS ENUM ('happy', 'sad', 'it''s \"ok\"')",
          "CREATE DOMAIN short_text AS varchar(20) CHECK (VALUE <> '')",
          "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
          "CREATE DOMAIN flag_bits AS varbit(16)",
          "CREATE DOMAIN nibble AS bit(4)",
          "CREATE DOMAIN int_list AS int[]",
          "CREATE DOMAIN blob AS bytea",
          "CREATE TYPE stamped AS (label text, at timestamptz)");

  /** The column definitions, after {@code id bigint PRIMARY KEY}. */
  public static final String COLUMNS =
      String.join(
          ", ",
          "small smallint",
          "whole int",
          "big bigint",
          "real_number real",
          "double_number double precision",
          "amount numeric(12,4)",
          "free numeric",
          "price money",
          "flag boolean",
          "label text",
          "code varchar(10)",
          "letter char(3)",
          "mood mood",
          "ident uuid",
          "span interval",
          "born date",
          "clock time",
          "zoned_clock timetz",
          "local_at timestamp",
          "at timestamptz",
          "doc jsonb",
          "plain_json json",
          "raw bytea",
          "pairs hstore",
          "address inet",
          "network cidr",
          "mac macaddr",
          "bits bit(4)",
          "varbits varbit",
          "numbers int[]",
          "bigs bigint[]",
          "words text[]",
          "stamps timestamp[]",
          "zoned_stamps timestamptz[]",
          "days date[]",
          "decimals numeric[]",
          "flags boolean[]",
          "idents uuid[]",
          "docs jsonb[]",
          "clocks time[]",
          "zoned_clocks timetz[]",
          "spans interval[]",
          "reals real[]",
          "ints int4range",
          "periods tstzrange",
          "name short_text",
          "count positive",
          "int_grid int[]",
          "text_grid text[]",
          "day_grid date[]",
          "byte_grid bytea[]",
          "decimal_grid numeric[]",
          "stamp_grid timestamp[]",
          "uuid_grid uuid[]",
          "doc_grid jsonb[]",
          "bounded_decimals numeric[]",
          "bounded_ints int[]",
          "bounded_grid text[]",
          "flag_bits flag_bits",
          "nibble nibble",
          "int_list int_list",
          "day_end time",
          "day_ends time[]",
          "gap_at timestamp",
          "gap_stamps timestamp[]",
          "ancient_at timestamptz",
          "ancient_local timestamp",
          "ancient_day date",
          "ancient_stamps timestamptz[]",
          "ancient_locals timestamp[]",
          "ancient_days date[]",
          "far_at timestamptz",
          "far_day date",
          // Types Debezium does not know, knows in another form than PostgreSQL's text, or gives
          // as bytes: cached as PostgreSQL prints them in a UTC session.
          "periods_set tstzmultirange",
          "ints_set int4multirange",
          "stamped stamped",
          "stamped_list stamped[]",
          "spot point",
          "spots point[]",
          "area box",
          "round circle",
          "query tsquery",
          "position pg_lsn",
          "vector int2vector",
          "blob blob",
          "tx xid",
          "relation regclass");

  /**
   * Rows {@code first} (ordinary values), {@code first + 1} (extremes) and {@code first + 2}
   * (NULLs), as one INSERT into {@code table}.
   */
  public static String insert(String table, int first) {
    return "INSERT INTO "
        + table
        + " VALUES "
        + "("
        + first
        + ", -32768, 2147483647, 9223372036854775807, 0.1, 0.1, 12.5000, 0.000000000000000000001,"
        + " 1234.56, true, 'tab\tnew\nline \"quoted\" é', 'abc', 'x', 'it''s \"ok\"',"
        + " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 year 2 mons 3 days 04:05:06.789', '2026-11-25',"
        + " '13:14:15.5', '13:14:15.5+02', '2026-11-25 19:24:35.000001', '2026-11-25 19:24:35.80404+01',"
        + " '{\"k\": [1, 2.50, {\"n\": null}], \"big\": 12345678901234567890}', '{\"x\": 1}',"
        + " '\\x00ff10', 'a=>1, \"b c\"=>\"d\\\"e\", n=>NULL', '192.168.0.1/24', '10.0.0.0/8',"
        + " '08:00:2b:01:02:03', B'1010', B'101', '{1,NULL,3}', '{9223372036854775807,-1}',"
        + " '{\"a b\",NULL,\"q\\\"uote\",\"back\\\\slash\",\"\"}',"
        + " '{\"2026-11-25 19:24:35.000001\",NULL,infinity}',"
        + " '{\"2026-11-25 19:24:35.80404+01\"}', '{2026-11-25,NULL}', '{1.50,NaN,-0.001}',"
        + " '{true,false,NULL}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',"
        + " ARRAY['{\"a\": [1, 2.50]}'::jsonb, NULL], '{13:14:15.5,NULL}', '{13:14:15.000001+05:30}',"
        + " '{\"1 day 00:00:01\",NULL}', '{0.1,NaN,-Infinity}', '[1,10)',"
        + " '[2026-11-25 19:24:35+00,)', 'short', 7,"
        + " '{{1,2},{3,NULL}}', '{{a,\"q\\\"uote\"},{\"NULL\",NULL}}',"
        + " '{{2026-11-25,NULL},{2026-03-29,2026-01-01}}', '{{\"\\\\x00ff\",NULL},{\"\\\\x\",\"\\\\x10\"}}',"
        + " '{{1.50,NaN},{NULL,-0.001}}',"
        + " '{{\"2026-03-29 02:30:00\",NULL},{\"2026-11-25 19:24:35.000001\",infinity}}',"
        + " '{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11},{NULL}}', '{{\"{\\\"a\\\": 1}\"},{NULL}}',"
        + " '[0:1]={1.5,2}', '[-1:1]={1,NULL,3}', '[0:1][1:2]={{a,b},{c,\"d e\"}}',"
        + " B'10110', B'1010', '{4,5}', '24:00:00', '{24:00:00,NULL}',"
        + " '2026-03-29 02:30:00', '{\"2026-03-29 02:30:00\",NULL}',"
        + " '0044-03-15 12:00:00+00 BC', '0044-03-15 12:00:00 BC', '0044-03-15 BC',"
        + " '{\"0044-03-15 12:00:00+00 BC\",\"1500-06-01 10:00:00.5+02\",NULL}',"
        + " '{\"0044-03-15 12:00:00 BC\",\"1500-06-01 10:00:00.5\"}', '{0044-03-15 BC,1500-06-01}',"
        + " '12345-06-07 08:09:10+00', '12345-06-07',"
        + " '{[2026-01-01 05:30+05:30,2026-01-02 00:00+00)}', '{[1,3),[5,7)}',"
        + " ROW('due', '2026-10-25 01:30+00')::stamped, ARRAY[ROW('a \"b\"', NULL)::stamped],"
        + " '(1,2.5)', ARRAY['(1,2.5)'::point, '(1e20,-0.1)'], '(1,1),(0,0)', '<(0,0),1e20>',"
        + " 'fat & rat', '16/B374D848', '1 2', '\\x00ff', '42', 'pg_class'),"
        + "("
        + (first + 1)
        + ", 0, -2147483648, -9223372036854775808, 'NaN', '-Infinity', -0.0001, 'NaN',"
        + " -92233720368547758.08, false, '', '', '', 'sad', '00000000-0000-0000-0000-000000000000',"
        + " '-1 days -00:00:00.000001', '0001-01-01', '00:00:00', '23:59:59.999999-11:30',"
        + " '-infinity', 'infinity', '[]', 'null', '\\x', '', '::1', '::/0', '00:00:00:00:00:00',"
        + " B'0000', B'', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',"
        + " '{}', 'empty', 'empty',"
        + " 'x', 2147483647,"
        + " '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '[5:5]={0}', '{}', '{}',"
        + " B'', B'0000', '{}', '00:00:00', '{}', '2026-10-25 02:30:00', '{}',"
        + " '1582-10-10 12:00:00.000001+00', '1582-10-10 12:00:00.000001', '1582-10-10',"
        + " '{\"1500-06-01 10:00:00+00\",\"12345-06-07 08:09:10+00\"}',"
        + " '{\"12345-06-07 08:09:10\"}', '{1582-10-04,12345-06-07}',"
        + " '0001-12-31 23:59:59.999999+00 BC', '0001-01-01 BC',"
        + " '{}', '{}', ROW(NULL, NULL)::stamped, '{}', '(NaN,-Infinity)', '{}',"
        + " '(-0.000001,1e-300),(-1e300,-2)', '<(1.5,-2.5),0>', '', '0/0', '', '\\x', '0',"
        + " 'pg_type'),"
        + "("
        + (first + 2)
        + ", NULL".repeat(COLUMNS.split(", ").length)
        + ")";
  }
}
