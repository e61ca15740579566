package io.cachesync.bench.workload;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * A kind of write load on its own tables: their schema and initial rows, their cachesync mapping,
 * the backlog the catch-up measurement drains, and the change the lag measurement offers.
 */
public interface Workload {

  /** Short id, e.g. {@code W1}. */
  String id();

  /** What the workload does, in a few words, for the table's header. */
  String title();

  /** {@code CREATE TABLE} (and related) statements. */
  List<String> schema();

  /** Statements that write the rows present before the daemon's first start. */
  List<String> initialRows();

  /** The workload's entries of mapping.yml, each starting with {@code - table:}. */
  String mapping();

  /**
   * Writes the backlog the consumers drain and returns how many row changes it made, the count
   * every consumer's rate is computed from.
   */
  long writeBacklog(Connection connection) throws SQLException;

  /** The change offered at fixed rates to measure lag; empty when the workload has none. */
  Optional<LagOperation> lag();

  /** A narrow row's values for the key {@code i}, in SQL. */
  String NARROW_VALUES = "i, 'name ' || i, i % 10, now()";

  /** A table of narrow rows: a bigint key and three short columns (W1, W3, W5 and W6's). */
  static String narrowTable(String name) {
    return "CREATE TABLE "
        + name
        + " (id bigint PRIMARY KEY, name text NOT NULL, kind int NOT NULL, at timestamptz NOT NULL)";
  }

  /**
   * Fills the narrow table {@code name} with the rows of keys 1 to {@code rows}, in one statement.
   */
  static String narrowRows(String name, long rows) {
    return "INSERT INTO "
        + name
        + " SELECT "
        + NARROW_VALUES
        + " FROM generate_series(1, "
        + rows
        + ") i";
  }

  /**
   * An anonymous PL/pgSQL block that runs {@code body} for {@code i} in {@code from..to},
   * committing after each run: single-row transactions without a round trip each, so the backlog is
   * written fast and its WAL is the same as a client's.
   */
  static String loop(long from, long to, String declarations, String body) {
    return "DO $$ "
        + (declarations.isEmpty() ? "" : "DECLARE " + declarations + " ")
        + "BEGIN FOR i IN "
        + from
        + ".."
        + to
        + " LOOP "
        + body
        + " COMMIT; END LOOP; END $$";
  }
}
