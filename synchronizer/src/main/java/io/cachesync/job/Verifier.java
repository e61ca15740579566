package io.cachesync.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cachesync.model.CacheOperation;
import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ChangePlanner;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.Mapping;
import io.cachesync.model.Row;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.redis.LettuceCacheInspector;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

/**
 * Compares Redis with PostgreSQL: every mapped row (or a sample) with its cached value, and every
 * key of each table's template with its row (a key under the prefix that the template does not
 * match is an orphan when cachesync wrote it, the application's otherwise: see OrphanSweeper). A
 * difference that may only be a change in flight is looked at again once the synchronizer has
 * applied the WAL written before the check began.
 */
public final class Verifier {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int EXAMPLES = 5;

  /** What is wrong with one key. */
  public enum Drift {
    MISSING("missing"),
    STALE("stale"),
    ORPHAN("orphan"),
    WRONG_TYPE("wrong type");

    private final String label;

    Drift(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /** One offending key, with what differs. */
  public record Offender(String key, Drift drift, String detail) {}

  /**
   * What was found in one table.
   *
   * @param wrongType every key of the wrong type: a write never replaces one (it evicts it), so a
   *     repair deletes them before reloading
   */
  public record TableReport(
      TableId table,
      long rowsChecked,
      Map<Drift, Long> counts,
      List<Offender> examples,
      List<String> wrongType) {
    public boolean consistent() {
      return counts.values().stream().allMatch(count -> count == 0);
    }
  }

  private final Connection postgres;
  private final LettuceCacheInspector redis;
  private final ChangePlanner planner;
  private final OrphanSweeper sweeper;

  public Verifier(Connection postgres, LettuceCacheInspector redis, Mapping mapping) {
    this.postgres = postgres;
    this.redis = redis;
    this.planner = new ChangePlanner(mapping);
    this.sweeper = new OrphanSweeper(postgres, redis);
  }

  /** The WAL position now: differences are looked at again once the synchronizer passed it. */
  public long currentLsn() throws SQLException {
    try (Statement statement = postgres.createStatement();
        ResultSet row = statement.executeQuery("SELECT pg_current_wal_lsn() - '0/0'")) {
      row.next();
      return row.getLong(1);
    }
  }

  /**
   * Checks one table.
   *
   * @param sample how many random rows and keys to check; 0 for all
   * @param caughtUp waits until the synchronizer applied the WAL written before the check began;
   *     false when it did not in time (then every difference found is reported)
   */
  public TableReport verify(TableMapping table, int sample, BooleanSupplier caughtUp)
      throws SQLException {
    Map<String, Offender> offenders = new LinkedHashMap<>();
    long rows = checkRows(table, sample, offenders);
    long[] keys = {0};
    sweeper.find(
        table,
        found ->
            found
                .keySet()
                .forEach(
                    key -> {
                      if (sample == 0 || keys[0]++ < sample) {
                        offenders.putIfAbsent(key, new Offender(key, Drift.ORPHAN, "no row"));
                      }
                    }));
    if (!offenders.isEmpty() && caughtUp.getAsBoolean()) {
      Map<String, Offender> confirmed = new LinkedHashMap<>();
      for (Offender offender : offenders.values()) {
        recheck(table, offender).ifPresent(still -> confirmed.put(still.key(), still));
      }
      offenders.clear();
      offenders.putAll(confirmed);
    }
    Map<Drift, Long> counts = new LinkedHashMap<>();
    for (Drift drift : Drift.values()) {
      counts.put(drift, offenders.values().stream().filter(o -> o.drift() == drift).count());
    }
    return new TableReport(
        table.table(),
        rows,
        counts,
        offenders.values().stream().limit(EXAMPLES).toList(),
        offenders.values().stream()
            .filter(o -> o.drift() == Drift.WRONG_TYPE)
            .map(Offender::key)
            .toList());
  }

  private long checkRows(TableMapping table, int sample, Map<String, Offender> offenders)
      throws SQLException {
    String sql =
        "SELECT * FROM "
            + OrphanSweeper.quote(table.table().schema())
            + "."
            + OrphanSweeper.quote(table.table().table())
            + (sample > 0 ? " ORDER BY random() LIMIT " + sample : "");
    boolean autoCommit = postgres.getAutoCommit();
    postgres.setAutoCommit(false); // a cursor: rows are streamed, not loaded at once
    long rows = 0;
    try (PreparedStatement statement = postgres.prepareStatement(sql)) {
      statement.setFetchSize(1_000);
      try (ResultSet result = statement.executeQuery()) {
        while (result.next()) {
          rows++;
          compare(table, JdbcRowEncoder.encode(result)).ifPresent(o -> offenders.put(o.key(), o));
        }
      }
    } finally {
      postgres.commit();
      postgres.setAutoCommit(autoCommit);
    }
    return rows;
  }

  /** What is wrong with a row's cached value, if anything. */
  private Optional<Offender> compare(TableMapping table, Row row) {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                table.table(), ChangeEvent.Kind.SNAPSHOT, Row.EMPTY, row, Version.ZERO));
    for (CacheOperation operation : operations) {
      if (operation instanceof CacheOperation.Write write) {
        return compare(write);
      }
    }
    if (table.mode() == SyncMode.EVICT) {
      return Optional.empty(); // whatever the application cached is its own
    }
    // A row the stream evicts instead of writing (a value it cannot encode, a reserved column): its
    // key must not exist, and a repair's reload evicts it.
    for (CacheOperation operation : operations) {
      if (operation instanceof CacheOperation.Evict evict
          && !redis.type(evict.key()).equals("none")) {
        String why =
            operations.stream()
                .filter(CacheOperation.Reject.class::isInstance)
                .map(reject -> ((CacheOperation.Reject) reject).reason())
                .findFirst()
                .orElse("the row cannot be cached");
        return Optional.of(
            new Offender(
                evict.key(), Drift.STALE, "present, though the row is not cached: " + why));
      }
    }
    return Optional.empty();
  }

  private Optional<Offender> compare(CacheOperation.Write write) {
    String key = write.key();
    String type = redis.type(key);
    if (type.equals("none")) {
      return Optional.of(new Offender(key, Drift.MISSING, "no key"));
    }
    String expectedType = write.format() == ValueFormat.HASH ? "hash" : "string";
    if (!type.equals(expectedType)) {
      return Optional.of(
          new Offender(
              key, Drift.WRONG_TYPE, "a " + type + " where a " + expectedType + " belongs"));
    }
    TreeSet<String> differing = new TreeSet<>();
    if (write.format() == ValueFormat.HASH) {
      Map<String, String> actual = new LinkedHashMap<>(redis.hash(key));
      actual.keySet().removeIf(field -> field.startsWith("__"));
      Map<String, String> expected = new LinkedHashMap<>();
      write
          .values()
          .forEach(
              (column, value) -> value.fieldText().ifPresent(text -> expected.put(column, text)));
      expected.forEach(
          (field, text) -> {
            if (!text.equals(actual.get(field))) {
              differing.add(field);
            }
          });
      actual.keySet().stream()
          .filter(field -> !expected.containsKey(field))
          .forEach(differing::add);
    } else {
      JsonNode actual;
      try {
        actual = JSON.readTree(redis.get(key));
      } catch (java.io.IOException e) {
        return Optional.of(new Offender(key, Drift.STALE, "not JSON"));
      }
      ObjectNode expected = JSON.createObjectNode();
      for (Map.Entry<String, ColumnValue> entry : write.values().entrySet()) {
        try {
          expected.set(entry.getKey(), JSON.readTree(entry.getValue().jsonText()));
        } catch (java.io.IOException e) {
          throw new IllegalStateException(e);
        }
      }
      expected
          .fieldNames()
          .forEachRemaining(
              member -> {
                if (!expected.get(member).equals(actual.get(member))) {
                  differing.add(member);
                }
              });
      actual
          .fieldNames()
          .forEachRemaining(
              member -> {
                if (!member.startsWith("__") && !expected.has(member)) {
                  differing.add(member);
                }
              });
    }
    return differing.isEmpty()
        ? Optional.empty()
        : Optional.of(new Offender(key, Drift.STALE, "fields " + String.join(", ", differing)));
  }

  /** The key's problem now, read fresh from both sides; empty when it is gone. */
  private Optional<Offender> recheck(TableMapping table, Offender offender) {
    Optional<Row> row = sweeper.row(table, offender.key());
    if (row.isEmpty()) {
      boolean exists = !redis.type(offender.key()).equals("none");
      return exists
          ? Optional.of(new Offender(offender.key(), Drift.ORPHAN, "no row"))
          : Optional.empty();
    }
    return table.mode() == SyncMode.EVICT ? Optional.empty() : compare(table, row.get());
  }

  /** The report as JSON, for monitoring. */
  public static String json(List<TableReport> reports) {
    ObjectNode root = JSON.createObjectNode();
    root.put("consistent", reports.stream().allMatch(TableReport::consistent));
    var tables = root.putArray("tables");
    for (TableReport report : reports) {
      ObjectNode table = tables.addObject();
      table.put("table", report.table().toString());
      table.put("rowsChecked", report.rowsChecked());
      table.put("missing", report.counts().get(Drift.MISSING));
      table.put("stale", report.counts().get(Drift.STALE));
      table.put("orphans", report.counts().get(Drift.ORPHAN));
      table.put("wrongType", report.counts().get(Drift.WRONG_TYPE));
      var examples = table.putArray("examples");
      for (Offender offender : report.examples()) {
        examples
            .addObject()
            .put("key", offender.key())
            .put("drift", offender.drift().label())
            .put("detail", offender.detail());
      }
    }
    return root.toString();
  }
}
