package io.cachesync.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangePlanner;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.Mapping;
import io.cachesync.model.Row;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.redis.CachedValue;
import io.cachesync.redis.LettuceCacheInspector;
import io.cachesync.redis.LettuceCacheReader;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Compares a table's rows with their cached values: the rows stream from a server-side cursor, in
 * the snapshot of one statement, and their keys are read in pipelined batches, several in flight
 * while the next rows are encoded. A row is compared as the stream would have written it (the
 * planner's write of a snapshot read of it, its values encoded by {@link JdbcRowEncoder}).
 */
final class RowCheck {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Rows fetched from the cursor per round trip. */
  private static final int FETCH = 2_000;

  /** Keys read in one pipelined batch. */
  static final int BATCH = 500;

  /** Batches sent and not yet compared. */
  private static final int IN_FLIGHT = 8;

  /**
   * What a row's key should hold: the row's write, or nothing at all (a row the stream evicts
   * instead of writing, for {@code notCached}).
   */
  record Expectation(String key, CacheOperation.Write write, String notCached) {}

  private final LettuceCacheInspector redis;
  private final ChangePlanner planner;

  RowCheck(LettuceCacheInspector redis, Mapping mapping) {
    this.redis = redis;
    this.planner = new ChangePlanner(mapping);
  }

  /**
   * Compares every row of the table (or {@code sample} random ones) with its key, handing each
   * difference to {@code confirmation}.
   *
   * @return how many rows were read
   */
  long check(Verifier.ConnectionSource postgres, TableMapping table, int sample, Confirmation found)
      throws SQLException {
    boolean compared = table.mode() != SyncMode.EVICT; // in evict mode, the rows are only counted
    try (Connection rows = postgres.open();
        LettuceCacheReader reader = redis.openReader()) {
      rows.setAutoCommit(false); // a cursor: rows are streamed, FETCH at a time
      rows.setReadOnly(true);
      String sql = query(rows, table, sample, compared ? "*" : "1");
      ArrayDeque<Sent> inFlight = new ArrayDeque<>();
      List<Expectation> batch = new ArrayList<>(BATCH);
      long count = 0;
      try (PreparedStatement statement = rows.prepareStatement(sql)) {
        statement.setFetchSize(FETCH);
        try (ResultSet result = statement.executeQuery()) {
          JdbcRowEncoder.Columns columns = compared ? JdbcRowEncoder.columns(result) : null;
          while (result.next()) {
            count++;
            if (!compared) {
              continue;
            }
            Expectation expected = expectation(table, columns.encode(result));
            if (expected == null) {
              continue;
            }
            if (expected.write() == null) {
              compareAbsent(expected).ifPresent(found::add);
              continue;
            }
            batch.add(expected);
            if (batch.size() == BATCH) {
              inFlight.add(send(reader, table, batch));
              batch = new ArrayList<>(BATCH);
              if (inFlight.size() > IN_FLIGHT) {
                compare(inFlight.poll(), found);
              }
            }
          }
        }
      } finally {
        rows.rollback(); // read only: nothing to commit
      }
      if (!batch.isEmpty()) {
        inFlight.add(send(reader, table, batch));
      }
      while (!inFlight.isEmpty()) {
        compare(inFlight.poll(), found);
      }
      return count;
    }
  }

  /** A batch of expectations whose keys were sent to Redis. */
  private record Sent(List<Expectation> expected, LettuceCacheReader.Batch values) {}

  private static Sent send(LettuceCacheReader reader, TableMapping table, List<Expectation> batch) {
    List<String> keys = new ArrayList<>(batch.size());
    batch.forEach(expected -> keys.add(expected.key()));
    if (table.format() != ValueFormat.HASH) {
      return new Sent(batch, reader.send(keys, false));
    }
    List<String[]> fields = new ArrayList<>(batch.size());
    batch.forEach(expected -> fields.add(LettuceCacheReader.storedFields(expected.write())));
    return new Sent(batch, reader.sendHashes(keys, fields));
  }

  private void compare(Sent sent, Confirmation found) {
    List<CachedValue> values = sent.values().values();
    for (int i = 0; i < values.size(); i++) {
      compare(sent.expected().get(i).write(), values.get(i)).ifPresent(found::add);
    }
  }

  /**
   * The rows to compare: all of them, or {@code sample} random rows. A table much larger than the
   * sample is not read whole: TABLESAMPLE SYSTEM reads the pages of about {@code 4 * sample + 1000}
   * rows, at least 50 pages, chosen at random by the planner's estimates (pg_class), and the sample
   * is drawn from their rows at random. A smaller table, or one never analysed, is sampled from all
   * its rows.
   */
  private static String query(Connection connection, TableMapping table, int sample, String what)
      throws SQLException {
    String name =
        OrphanSweeper.quote(table.table().schema())
            + "."
            + OrphanSweeper.quote(table.table().table());
    if (sample <= 0) {
      return "SELECT " + what + " FROM " + name;
    }
    double rows = -1;
    double pages = -1;
    try (PreparedStatement statement =
        connection.prepareStatement(
            "SELECT reltuples, relpages FROM pg_catalog.pg_class"
                + " WHERE oid = pg_catalog.to_regclass(?)")) {
      statement.setString(1, name);
      try (ResultSet result = statement.executeQuery()) {
        if (result.next()) {
          rows = result.getDouble(1);
          pages = result.getDouble(2);
        }
      }
    }
    String from = name;
    if (rows > 0 && pages > 0) {
      double percent = 100 * Math.max((4.0 * sample + 1000) / rows, 50 / pages);
      if (percent < 100) {
        from = name + " TABLESAMPLE SYSTEM (" + String.format(Locale.ROOT, "%.6f", percent) + ")";
      }
    }
    return "SELECT " + what + " FROM " + from + " ORDER BY random() LIMIT " + sample;
  }

  /**
   * What the row's key should hold; null when nothing is to be checked (a table in evict mode,
   * whose keys the application fills, or a row with no key).
   */
  Expectation expectation(TableMapping table, Row row) {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                table.table(), ChangeEvent.Kind.SNAPSHOT, Row.EMPTY, row, Version.ZERO));
    for (CacheOperation operation : operations) {
      if (operation instanceof CacheOperation.Write write) {
        return new Expectation(write.key(), write, null);
      }
    }
    if (table.mode() == SyncMode.EVICT) {
      return null; // whatever the application cached is its own
    }
    // A row the stream evicts instead of writing (a value it cannot encode, a reserved column): its
    // key must not exist, and a repair's reload evicts it.
    for (CacheOperation operation : operations) {
      if (operation instanceof CacheOperation.Evict evict) {
        String why =
            operations.stream()
                .filter(CacheOperation.Reject.class::isInstance)
                .map(reject -> ((CacheOperation.Reject) reject).reason())
                .findFirst()
                .orElse("the row cannot be cached");
        return new Expectation(evict.key(), null, why);
      }
    }
    return null;
  }

  /** A row that is not cached: its key must not exist. */
  Optional<Verifier.Offender> compareAbsent(Expectation expected) {
    if (redis.type(expected.key()).equals("none")) {
      return Optional.empty();
    }
    return Optional.of(
        new Verifier.Offender(
            expected.key(),
            Verifier.Drift.STALE,
            "present, though the row is not cached: " + expected.notCached()));
  }

  /** What is wrong with the value found at a write's key, if anything. */
  Optional<Verifier.Offender> compare(CacheOperation.Write write, CachedValue actual) {
    String key = write.key();
    if (actual.absent()) {
      return Optional.of(new Verifier.Offender(key, Verifier.Drift.MISSING, "no key"));
    }
    if (actual.asExpected()) {
      return Optional.empty(); // read as it should be, field by field in order
    }
    String expectedType = write.format() == ValueFormat.HASH ? "hash" : "string";
    if (!actual.type().equals(expectedType)) {
      return Optional.of(
          new Verifier.Offender(
              key,
              Verifier.Drift.WRONG_TYPE,
              "a " + actual.type() + " where a " + expectedType + " belongs"));
    }
    TreeSet<String> differing =
        write.format() == ValueFormat.HASH
            ? differingFields(write, actual.fields())
            : differingMembers(write, actual.text());
    if (differing == null) {
      return Optional.of(new Verifier.Offender(key, Verifier.Drift.STALE, "not JSON"));
    }
    return differing.isEmpty()
        ? Optional.empty()
        : Optional.of(
            new Verifier.Offender(
                key, Verifier.Drift.STALE, "fields " + String.join(", ", differing)));
  }

  /** The fields that differ from the row's, by text; {@code __} fields are cachesync's own. */
  private static TreeSet<String> differingFields(
      CacheOperation.Write write, Map<String, String> actual) {
    TreeSet<String> differing = new TreeSet<>();
    if (sameInOrder(write, actual)) {
      return differing;
    }
    int expected = 0;
    for (Map.Entry<String, ColumnValue> column : write.values().entrySet()) {
      Optional<String> text = column.getValue().fieldText();
      if (text.isPresent()) {
        expected++;
        if (!text.get().equals(actual.get(column.getKey()))) {
          differing.add(column.getKey());
        }
      }
    }
    int own = 0;
    for (String field : actual.keySet()) {
      if (field.startsWith("__")) {
        own++;
      }
    }
    // Each expected field found is one of the actual ones: any other is a field no column has.
    int found = expected - differing.size();
    if (actual.size() - own > found) {
      for (String field : actual.keySet()) {
        ColumnValue value = write.values().get(field);
        if (!field.startsWith("__") && (value == null || value.fieldText().isEmpty())) {
          differing.add(field);
        }
      }
    }
    return differing;
  }

  /**
   * Whether the hash holds exactly the row's fields in the row's column order, as the writer stores
   * them (a small hash answers HGETALL in the order its fields were written): then no field needs
   * to be looked up by name, which is most of a consistent row's cost.
   */
  private static boolean sameInOrder(CacheOperation.Write write, Map<String, String> actual) {
    Iterator<Map.Entry<String, String>> found = actual.entrySet().iterator();
    for (Map.Entry<String, ColumnValue> column : write.values().entrySet()) {
      Optional<String> text = column.getValue().fieldText();
      if (text.isEmpty()) {
        continue;
      }
      Map.Entry<String, String> next = nextColumnField(found);
      if (next == null
          || !next.getKey().equals(column.getKey())
          || !next.getValue().equals(text.get())) {
        return false;
      }
    }
    return nextColumnField(found) == null;
  }

  private static Map.Entry<String, String> nextColumnField(
      Iterator<Map.Entry<String, String>> fields) {
    while (fields.hasNext()) {
      Map.Entry<String, String> field = fields.next();
      if (!field.getKey().startsWith("__")) {
        return field;
      }
    }
    return null;
  }

  /** The members that differ from the row's, as JSON values; null when the value is not JSON. */
  private static TreeSet<String> differingMembers(CacheOperation.Write write, String text) {
    if (LettuceCacheReader.writtenJson(write, text)) {
      return new TreeSet<>();
    }
    JsonNode actual;
    try {
      actual = JSON.readTree(text);
    } catch (IOException e) {
      return null;
    }
    if (actual == null) {
      actual = com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }
    TreeSet<String> differing = new TreeSet<>();
    for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
      JsonNode expected;
      try {
        expected = JSON.readTree(entry.getValue().jsonText());
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      if (!expected.equals(actual.get(entry.getKey()))) {
        differing.add(entry.getKey());
      }
    }
    actual
        .fieldNames()
        .forEachRemaining(
            member -> {
              if (!member.startsWith("__") && !write.values().containsKey(member)) {
                differing.add(member);
              }
            });
    return differing;
  }
}
