package io.cachesync.job;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.LettuceCacheInspector;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;

/**
 * Compares Redis with PostgreSQL in two passes that run side by side: every mapped row (or a
 * sample) with its cached value ({@link RowCheck}), and every key of each table's template with its
 * row ({@link OrphanSweeper}; a key under the prefix that the template does not match is an orphan
 * when cachesync wrote it, the application's otherwise). Memory does not grow with the table or
 * with the drift: rows are read with a cursor and keys a SCAN page at a time, and the report keeps
 * counts and the first keys of each kind ({@link Tally}). A difference that may only be a change in
 * flight is looked at again once the synchronizer has applied the WAL written before the check
 * began ({@link Confirmation}).
 */
public final class Verifier {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Opens a connection to PostgreSQL; each pass uses its own. */
  @FunctionalInterface
  public interface ConnectionSource {
    Connection open() throws SQLException;
  }

  /** What is wrong with one key. */
  public enum Drift {
    MISSING("missing", "missing"),
    STALE("stale", "stale"),
    ORPHAN("orphan", "orphans"),
    WRONG_TYPE("wrong type", "wrongType");

    private final String label;
    private final String jsonName;

    Drift(String label, String jsonName) {
      this.label = label;
      this.jsonName = jsonName;
    }

    public String label() {
      return label;
    }

    /** The name of its count, and of its list of first keys, in the JSON report. */
    public String jsonName() {
      return jsonName;
    }
  }

  /** One offending key, with what differs. */
  public record Offender(String key, Drift drift, String detail) {}

  /**
   * What was found in one table.
   *
   * @param rowsChecked the rows compared with their keys (all, or the sample's)
   * @param keysChecked the keys under the table's prefix looked up in PostgreSQL
   * @param sample the sample size asked for; 0 when every row and key was checked
   * @param counts how many keys of each kind of drift, exact
   * @param firstKeys the first {@link Tally#LISTED} keys of each kind found
   * @param examples the first {@link Tally#EXAMPLES} offenders of each kind, with what differs
   */
  public record TableReport(
      TableId table,
      long rowsChecked,
      long keysChecked,
      int sample,
      Map<Drift, Long> counts,
      Map<Drift, List<String>> firstKeys,
      List<Offender> examples) {
    public TableReport {
      counts = Map.copyOf(counts);
      firstKeys = Map.copyOf(firstKeys);
      examples = List.copyOf(examples);
    }

    public boolean consistent() {
      return counts.values().stream().allMatch(count -> count == 0);
    }

    public long count(Drift drift) {
      return counts.getOrDefault(drift, 0L);
    }
  }

  private final ConnectionSource postgres;
  private final LettuceCacheInspector redis;
  private final RowCheck rowCheck;
  private final boolean deleteWrongType;

  /**
   * @param deleteWrongType delete each key of the wrong type once confirmed (for {@code --repair}:
   *     a write never replaces such a key, it evicts it, so a repair deletes them before reloading)
   */
  public Verifier(
      ConnectionSource postgres,
      LettuceCacheInspector redis,
      io.cachesync.model.Mapping mapping,
      boolean deleteWrongType) {
    this.postgres = postgres;
    this.redis = redis;
    this.rowCheck = new RowCheck(redis, mapping);
    this.deleteWrongType = deleteWrongType;
  }

  /**
   * Checks one table.
   *
   * @param sample how many rows and keys to check; 0 for all
   * @param daemonCaughtUp when a synchronizer runs: waits until it applied the WAL written before
   *     the check began, false when it did not in time (then every difference found is reported);
   *     empty when none runs, so that nothing is in flight and a difference found is drift
   */
  public TableReport verify(
      TableMapping table, int sample, Optional<BooleanSupplier> daemonCaughtUp)
      throws SQLException {
    Tally tally = new Tally();
    Optional<BooleanSupplier> settled = daemonCaughtUp.map(Verifier::once);
    ExecutorService keyPass =
        Executors.newSingleThreadExecutor(
            task -> {
              Thread thread = new Thread(task, "verify-keys");
              thread.setDaemon(true);
              return thread;
            });
    try {
      CompletableFuture<Long> keys =
          CompletableFuture.supplyAsync(() -> checkKeys(table, sample, tally, settled), keyPass);
      long rows;
      try (Confirmation confirmation = confirmation(table, tally, settled)) {
        rows = rowCheck.check(postgres, table, sample, confirmation);
      }
      long keysChecked;
      try {
        keysChecked = keys.join();
      } catch (CompletionException e) {
        if (e.getCause() instanceof RuntimeException failure) {
          throw failure;
        }
        throw e;
      }
      return tally.report(table.table(), rows, keysChecked, sample);
    } finally {
      keyPass.shutdownNow();
    }
  }

  /** The keys under the table's prefix whose row does not exist, on a connection of its own. */
  private long checkKeys(
      TableMapping table, int sample, Tally tally, Optional<BooleanSupplier> settled) {
    try (Confirmation confirmation = confirmation(table, tally, settled);
        Connection lookups = postgres.open()) {
      OrphanSweeper sweeper = new OrphanSweeper(lookups, redis);
      return sweeper.report(
          table,
          sample > 0 ? sample : Long.MAX_VALUE,
          found ->
              found
                  .keySet()
                  .forEach(key -> confirmation.add(new Offender(key, Drift.ORPHAN, "no row"))));
    } catch (SQLException e) {
      throw new IllegalStateException(
          "cannot look up the keys of " + table.table() + ": " + e.getMessage(), e);
    }
  }

  private Confirmation confirmation(
      TableMapping table, Tally tally, Optional<BooleanSupplier> settled) {
    return new Confirmation(table, rowCheck, postgres, redis, settled, tally, deleteWrongType);
  }

  /** How many keys of each kind of drift a report lists. */
  public static int firstKeysLimit() {
    return Tally.LISTED;
  }

  /** Asks {@code supplier} once, and answers that every time after. */
  private static BooleanSupplier once(BooleanSupplier supplier) {
    return new BooleanSupplier() {
      private Boolean answer;

      @Override
      public synchronized boolean getAsBoolean() {
        if (answer == null) {
          answer = supplier.getAsBoolean();
        }
        return answer;
      }
    };
  }

  /**
   * The report as JSON, for monitoring: per table the exact counts, up to {@link Tally#EXAMPLES}
   * examples of each kind with what differs, and the first {@link Tally#LISTED} keys of each kind.
   */
  public static String json(List<TableReport> reports) {
    ObjectNode root = JSON.createObjectNode();
    root.put("consistent", reports.stream().allMatch(TableReport::consistent));
    root.put("firstKeysLimit", Tally.LISTED);
    var tables = root.putArray("tables");
    for (TableReport report : reports) {
      ObjectNode table = tables.addObject();
      table.put("table", report.table().toString());
      table.put("rowsChecked", report.rowsChecked());
      table.put("keysChecked", report.keysChecked());
      table.put("sample", report.sample());
      for (Drift drift : Drift.values()) {
        table.put(drift.jsonName(), report.count(drift));
      }
      var examples = table.putArray("examples");
      for (Offender offender : report.examples()) {
        examples
            .addObject()
            .put("key", offender.key())
            .put("drift", offender.drift().label())
            .put("detail", offender.detail());
      }
      ObjectNode firstKeys = table.putObject("firstKeys");
      for (Drift drift : Drift.values()) {
        var keys = firstKeys.putArray(drift.jsonName());
        report.firstKeys().getOrDefault(drift, List.of()).forEach(keys::add);
      }
    }
    return root.toString();
  }

  /**
   * The bounded report of one table, filled from both passes: exact counts, and the first keys of
   * each kind.
   */
  static final class Tally {
    /** Offenders of each kind shown with what differs. */
    static final int EXAMPLES = 5;

    /** Keys of each kind listed in the report. */
    static final int LISTED = 100;

    private final Map<Drift, Long> counts = new EnumMap<>(Drift.class);
    private final Map<Drift, List<String>> firstKeys = new EnumMap<>(Drift.class);
    private final Map<Drift, List<Offender>> examples = new EnumMap<>(Drift.class);

    Tally() {
      for (Drift drift : Drift.values()) {
        counts.put(drift, 0L);
        firstKeys.put(drift, new ArrayList<>());
        examples.put(drift, new ArrayList<>());
      }
    }

    synchronized void add(Offender offender) {
      Drift drift = offender.drift();
      counts.merge(drift, 1L, Long::sum);
      if (firstKeys.get(drift).size() < LISTED) {
        firstKeys.get(drift).add(offender.key());
      }
      if (examples.get(drift).size() < EXAMPLES) {
        examples.get(drift).add(offender);
      }
    }

    synchronized TableReport report(TableId table, long rows, long keys, int sample) {
      Map<Drift, List<String>> listed = new EnumMap<>(Drift.class);
      firstKeys.forEach((drift, keysFound) -> listed.put(drift, List.copyOf(keysFound)));
      List<Offender> shown = new ArrayList<>();
      examples.values().forEach(shown::addAll);
      return new TableReport(table, rows, keys, sample, counts, listed, shown);
    }
  }
}
