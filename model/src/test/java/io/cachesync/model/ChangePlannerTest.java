package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.CacheOperation.Evict;
import io.cachesync.model.CacheOperation.EvictTable;
import io.cachesync.model.CacheOperation.Reject;
import io.cachesync.model.CacheOperation.Write;
import io.cachesync.model.ChangeEvent.Kind;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ChangePlannerTest {
  private static final TableId USERS = TableId.parse("public.users");
  private static final TableId LINES = TableId.parse("public.order_lines");
  private static final TableId EVENTS = TableId.parse("public.events");
  private static final Version V = new Version(0x10, 0x20);

  private final ChangePlanner planner =
      new ChangePlanner(
          new Mapping(
              List.of(
                  new TableMapping(
                      USERS,
                      KeyTemplate.parse("user:{id}"),
                      ValueFormat.HASH,
                      SyncMode.WRITE,
                      List.of("id", "name", "email"),
                      Optional.of(new Ttl(Duration.ofHours(1)))),
                  new TableMapping(
                      LINES,
                      KeyTemplate.parse("line:{order_id}:{line_no}"),
                      ValueFormat.JSON,
                      SyncMode.WRITE,
                      List.of(),
                      Optional.empty()),
                  new TableMapping(
                      EVENTS,
                      KeyTemplate.parse("event:{id}"),
                      ValueFormat.HASH,
                      SyncMode.EVICT,
                      List.of(),
                      Optional.empty()))));

  private static Row row(Object... columnsAndValues) {
    Map<String, ColumnValue> columns = new LinkedHashMap<>();
    for (int i = 0; i < columnsAndValues.length; i += 2) {
      Object value = columnsAndValues[i + 1];
      columns.put(
          (String) columnsAndValues[i],
          value instanceof ColumnValue c
              ? c
              : value instanceof Integer n
                  ? new ColumnValue.Number(n.toString())
                  : ColumnValue.text((String) value));
    }
    return new Row(columns);
  }

  @Test
  void plan_insert_writesTheMappedColumnsOnly() {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                USERS,
                Kind.INSERT,
                Row.EMPTY,
                row("id", 1, "name", "Ada", "email", ColumnValue.NULL, "secret", "x"),
                V));

    assertThat(operations)
        .containsExactly(
            new Write(
                USERS,
                "user:1",
                ValueFormat.HASH,
                row("id", 1, "name", "Ada", "email", ColumnValue.NULL).columns(),
                V,
                Optional.of(new Ttl(Duration.ofHours(1)))));
  }

  @Test
  void plan_rowWithoutAMappedColumn_leavesItOut() {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(USERS, Kind.UPDATE, row("id", 1), row("id", 1, "name", "Ada"), V));

    assertThat(((Write) operations.get(0)).values()).containsOnlyKeys("id", "name");
  }

  @Test
  void plan_delete_evictsTheKeyOfTheOldRow() {
    assertThat(planner.plan(new ChangeEvent(USERS, Kind.DELETE, row("id", 7), Row.EMPTY, V)))
        .containsExactly(new Evict(USERS, "user:7", V));
  }

  @Test
  void plan_primaryKeyChanged_evictsOldKeyAndWritesNew() {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                LINES,
                Kind.UPDATE,
                row("order_id", 1, "line_no", 1),
                row("order_id", 1, "line_no", 2, "sku", "A"),
                V));

    assertThat(operations).hasSize(2);
    Write write = (Write) operations.get(0);
    assertThat(write.key()).isEqualTo("line:1:2");
    assertThat(write.mergeFrom())
        .as("unchanged TOAST columns come from the old key")
        .isEqualTo("line:1:1");
    assertThat(operations.get(1)).isEqualTo(new Evict(LINES, "line:1:1", V));
  }

  @Test
  void plan_keyChangedToAValueWithTheSeparator_evictsTheOldKey() {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                LINES,
                Kind.UPDATE,
                row("order_id", "a", "line_no", 1),
                row("order_id", "a:b", "line_no", 1, "sku", "A"),
                V));

    assertThat(operations)
        .containsExactly(
            new Reject(
                LINES,
                "key 'line:{order_id}:{line_no}': the value of column order_id contains ':', which would make"
                    + " the key ambiguous"),
            new Evict(LINES, "line:a:1", V));
  }

  @Test
  void plan_keyChangedToEmptyOrNull_evictsTheOldKey() {
    for (Object unrenderable : new Object[] {"", ColumnValue.NULL}) {
      assertThat(
              planner.plan(
                  new ChangeEvent(
                      USERS,
                      Kind.UPDATE,
                      row("id", "7"),
                      row("id", unrenderable, "name", "Ann"),
                      V)))
          .as("new id %s", unrenderable)
          .hasSize(2)
          .last()
          .isEqualTo(new Evict(USERS, "user:7", V));
    }
  }

  @Test
  void plan_truncate_evictsTheKeysOfTheTablesTemplate() {
    assertThat(planner.plan(new ChangeEvent(LINES, Kind.TRUNCATE, Row.EMPTY, Row.EMPTY, V)))
        .containsExactly(new EvictTable(LINES, KeyTemplate.parse("line:{order_id}:{line_no}"), V));
  }

  @Test
  void plan_truncate_evictsTheWholeTemplateInEitherMode() {
    EvictTable write =
        (EvictTable)
            planner.plan(new ChangeEvent(USERS, Kind.TRUNCATE, Row.EMPTY, Row.EMPTY, V)).get(0);
    EvictTable evict =
        (EvictTable)
            planner.plan(new ChangeEvent(EVENTS, Kind.TRUNCATE, Row.EMPTY, Row.EMPTY, V)).get(0);

    assertThat(write.keyGlob()).isEqualTo("user:*");
    assertThat(write.owns("user:session:x")).as("any key the template reads").isTrue();
    assertThat(write.owns("user:")).isFalse();
    assertThat(evict).isEqualTo(new EvictTable(EVENTS, KeyTemplate.parse("event:{id}"), V));
  }

  @Test
  void plan_rejectedKey_isShownOnOneLine() {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                LINES,
                Kind.INSERT,
                Row.EMPTY,
                row("order_id", "a\nb\u202e", "line_no", 1, "__v", "x"),
                V));

    assertThat(((Reject) operations.get(1)).reason())
        .startsWith("key line:a\\nb\\u{202e}:1: column __v");
  }

  @Test
  void plan_evictMode_evictsOnEveryChange() {
    assertThat(
            planner.plan(
                new ChangeEvent(EVENTS, Kind.INSERT, Row.EMPTY, row("id", 3, "payload", "p"), V)))
        .containsExactly(new Evict(EVENTS, "event:3", V));
    assertThat(
            planner.plan(
                new ChangeEvent(
                    EVENTS, Kind.UPDATE, row("id", 3), row("id", 3, "payload", "q"), V)))
        .containsExactly(new Evict(EVENTS, "event:3", V));
  }

  @Test
  void plan_unmappedTable_doesNothing() {
    assertThat(
            planner.plan(
                new ChangeEvent(
                    TableId.parse("public.other"), Kind.INSERT, Row.EMPTY, row("id", 1), V)))
        .isEmpty();
  }

  @Test
  void plan_keyColumnNull_isRejectedWithTheReason() {
    assertThat(
            planner.plan(
                new ChangeEvent(USERS, Kind.INSERT, Row.EMPTY, row("id", ColumnValue.NULL), V)))
        .containsExactly(new Reject(USERS, "key 'user:{id}': column id is NULL or missing"));
  }

  @Test
  void plan_unchangedToastColumn_isMarkedForTheWriterToKeep() {
    Write write =
        (Write)
            planner
                .plan(
                    new ChangeEvent(
                        USERS,
                        Kind.UPDATE,
                        row("id", 1),
                        row("id", 1, "name", "Ada", "email", ColumnValue.UNCHANGED),
                        V))
                .get(0);

    assertThat(write.unchangedColumns()).containsExactly("email");
  }

  @Test
  void plan_valueThatCannotBeEncoded_evictsTheKeyAndReportsIt() {
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                USERS,
                Kind.UPDATE,
                row("id", 1),
                row("id", 1, "name", new ColumnValue.Unencodable("unknown type")),
                V));

    assertThat(operations)
        .containsExactly(
            new Evict(USERS, "user:1", V),
            new Reject(USERS, "key user:1: column name cannot be encoded (unknown type); evicted"));
  }

  @Test
  void plan_rowWithAReservedColumnWhenColumnsAreOmitted_evictsTheKeyAndNeverWritesIt() {
    // A __v column added to the table while the daemon runs would overwrite the value's version.
    List<CacheOperation> operations =
        planner.plan(
            new ChangeEvent(
                LINES,
                Kind.UPDATE,
                row("order_id", 1, "line_no", 2),
                row("order_id", 1, "line_no", 2, "__v", "zzzz", "label", "two"),
                V));

    assertThat(operations).noneMatch(Write.class::isInstance);
    assertThat(operations).first().isEqualTo(new Evict(LINES, "line:1:2", V));
    assertThat(operations)
        .filteredOn(Reject.class::isInstance)
        .singleElement()
        .extracting(operation -> ((Reject) operation).reason())
        .asString()
        .contains("line:1:2", "column __v", "reserved", "Rename the column");
  }
}
