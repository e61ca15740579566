package io.cachesync.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cachesync.testing.SyncHarness;
import io.cachesync.testing.ToastedTable;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An UPDATE that leaves out-of-line TOASTed columns alone keeps each one's cached value byte for
 * byte, for every type Debezium can mark unavailable, in both formats, under REPLICA IDENTITY
 * DEFAULT and FULL.
 */
class ToastedValueIT {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static SyncHarness harness;

  @BeforeAll
  static void start() throws Exception {
    harness = new SyncHarness("toasted");
    List<String> setup = new ArrayList<>(ToastedTable.TYPES);
    StringBuilder mapping = new StringBuilder("tables:\n");
    for (String format : new String[] {"hash", "json"}) {
      for (String identity : new String[] {"default", "full"}) {
        String table = format + "_" + identity;
        setup.addAll(ToastedTable.create(table, identity));
        mapping
            .append("  - table: public.")
            .append(table)
            .append("\n    key: \"")
            .append(table)
            .append(":{id}\"\n    format: ")
            .append(format)
            .append('\n');
      }
    }
    harness.sql(setup.toArray(String[]::new));
    harness.start(mapping.toString());
    await().atMost(WAIT).until(() -> harness.daemon().state() == io.cachesync.Daemon.State.RUNNING);
  }

  @AfterAll
  static void stop() {
    harness.close();
  }

  @ParameterizedTest(name = "{0} format, REPLICA IDENTITY {1}")
  @CsvSource({"hash, default", "hash, full", "json, default", "json, full"})
  void update_ofAnotherColumn_keepsEveryToastedValueByteForByte(String format, String identity)
      throws Exception {
    String table = format + "_" + identity;
    String key = table + ":1";
    harness.sql(ToastedTable.insert(table, 1, "before"));
    assertThat(valuesOutOfLine(table))
        .as("values stored out of line (the table holds one row)")
        .isEqualTo(ToastedTable.COLUMNS.size());
    await().atMost(WAIT).until(() -> harness.redis.redis().exists(key) == 1);
    Map<String, String> before = cached(format, key);
    assertThat(before.keySet())
        .as("every column is cached")
        .containsAll(ToastedTable.COLUMNS.stream().map(column -> column[0]).toList());

    harness.sql("UPDATE " + table + " SET label = 'after' WHERE id = 1");

    await().atMost(WAIT).until(() -> "after".equals(cached(format, key).get("label")));
    Map<String, String> after = cached(format, key);
    List<String> changed = new ArrayList<>();
    for (String[] column : ToastedTable.COLUMNS) {
      if (!Objects.equals(after.get(column[0]), before.get(column[0]))) {
        changed.add(column[0] + " " + column[1] + " became " + abbreviated(after.get(column[0])));
      }
    }
    assertThat(changed).as("toasted columns whose cached value changed").isEmpty();
    assertThat(after.keySet()).isEqualTo(before.keySet());
  }

  private static long valuesOutOfLine(String table) throws Exception {
    try (Connection connection = harness.postgres.connect(harness.database);
        Statement statement = connection.createStatement()) {
      String toast;
      try (ResultSet result = statement.executeQuery(ToastedTable.toastTable(table))) {
        result.next();
        toast = result.getString(1);
      }
      try (ResultSet result =
          statement.executeQuery("SELECT count(DISTINCT chunk_id) FROM " + toast)) {
        result.next();
        return result.getLong(1);
      }
    }
  }

  /** The cached value's fields, a json value's members as their JSON text, without __v. */
  private static Map<String, String> cached(String format, String key) throws Exception {
    if (format.equals("hash")) {
      Map<String, String> hash = new java.util.TreeMap<>(harness.redis.hash(key));
      hash.remove("__v");
      return hash;
    }
    Map<String, String> members = new java.util.TreeMap<>();
    String value = harness.redis.redis().get(key);
    if (value == null) {
      return members;
    }
    ObjectNode object = (ObjectNode) JSON.readTree(value);
    object.fields().forEachRemaining(e -> members.put(e.getKey(), text(e.getValue())));
    members.remove("__v");
    return members;
  }

  private static String abbreviated(String value) {
    return value == null || value.length() <= 60 ? value : value.substring(0, 60) + "...";
  }

  private static String text(JsonNode node) {
    return node.isTextual() ? node.textValue() : node.toString();
  }
}
