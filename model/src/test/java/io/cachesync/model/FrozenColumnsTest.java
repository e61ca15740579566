package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.model.CacheOperation.Write;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class FrozenColumnsTest {
  private static final TableId USERS = TableId.parse("public.users");

  private static Map<String, ColumnValue> columns() {
    Map<String, ColumnValue> columns = new LinkedHashMap<>();
    columns.put("id", new ColumnValue.Number("1"));
    columns.put("name", ColumnValue.text("Ada"));
    columns.put("email", ColumnValue.NULL);
    return columns;
  }

  @Test
  void row_sourceMapChangedAfterwards_keepsWhatItWasMadeWith() {
    Map<String, ColumnValue> source = columns();
    Row row = new Row(source);

    source.put("name", ColumnValue.text("Grace"));
    source.remove("email");

    assertThat(row.columns()).isEqualTo(columns());
    assertThat(row.columns().keySet()).containsExactly("id", "name", "email");
  }

  @Test
  void write_ofARowsColumns_sharesThemInsteadOfCopying() {
    Row row = new Row(columns());

    Write write =
        new Write(
            USERS, "user:1", ValueFormat.HASH, row.columns(), new Version(1, 2), Optional.empty());

    assertThat(write.values()).isSameAs(row.columns());
    assertThat(write.mergingFrom("user:0").values()).isSameAs(row.columns());
  }

  @Test
  void write_ofAPlainMap_copiesItInOrder() {
    Map<String, ColumnValue> source = columns();

    Write write =
        new Write(USERS, "user:1", ValueFormat.HASH, source, new Version(1, 2), Optional.empty());
    source.clear();

    assertThat(write.values()).isEqualTo(columns()).hasSameHashCodeAs(columns());
    assertThat(write.values().keySet()).containsExactly("id", "name", "email");
    assertThat(write.values()).hasToString(columns().toString());
  }

  @Test
  void columns_changed_refuse() {
    assertRefusesChanges(new Row(columns()).columns());
    assertRefusesChanges(sharedRow("Ada", ColumnValue.NULL).columns());
  }

  private static void assertRefusesChanges(Map<String, ColumnValue> frozen) {
    assertThatThrownBy(() -> frozen.put("x", ColumnValue.NULL))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> frozen.remove("id")).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> frozen.entrySet().iterator().next().setValue(ColumnValue.NULL))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> frozen.keySet().clear())
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void unchangedColumns_areTheUnchangedOnesInOrder() {
    Map<String, ColumnValue> source = columns();
    source.put("doc", ColumnValue.UNCHANGED);
    source.put("bio", ColumnValue.UNCHANGED);

    Write write =
        new Write(USERS, "user:1", ValueFormat.HASH, source, new Version(1, 2), Optional.empty());

    assertThat(write.unchangedColumns()).containsExactly("doc", "bio");
  }

  /** One set of names, shared by every row the tests make: as a result's rows share theirs. */
  private static final ColumnNames NAMES =
      ColumnNames.of(List.of("id", "name", "email")).orElseThrow();

  private static Row sharedRow(String name, ColumnValue email) {
    return NAMES.row(
        new ColumnValue[] {new ColumnValue.Number("1"), ColumnValue.text(name), email});
  }

  @Test
  void rowOfSharedNames_isTheMapItsColumnsMake() {
    Map<String, ColumnValue> shared = sharedRow("Ada", ColumnValue.NULL).columns();

    assertThat(shared).isEqualTo(columns()).hasSameHashCodeAs(columns());
    assertThat(columns()).isEqualTo(shared);
    assertThat(shared.get(null)).isNull();
    assertThat(shared.containsKey(null)).isFalse();
    assertThat(shared.entrySet().stream().map(Map.Entry::getKey).toList())
        .containsExactly("id", "name", "email");
    assertThat(shared).hasToString(columns().toString());
    assertThat(shared.keySet()).containsExactly("id", "name", "email");
    assertThat(shared.get("name")).isEqualTo(ColumnValue.text("Ada"));
    assertThat(shared.get("email")).isSameAs(ColumnValue.NULL);
    assertThat(shared.containsKey("email")).isTrue();
    assertThat(shared.get("missing")).isNull();
    assertThat(shared.containsKey("missing")).isFalse();
    List<String> seen = new ArrayList<>();
    shared.forEach((column, value) -> seen.add(column + "=" + value.fieldText().orElse("-")));
    assertThat(seen).containsExactly("id=1", "name=Ada", "email=-");
    assertThat(new Row(shared).columns()).isSameAs(shared);
  }

  @Test
  void rowsOfSharedNames_keepTheirOwnValues() {
    Row ada = sharedRow("Ada", ColumnValue.NULL);
    Row grace = sharedRow("Grace", ColumnValue.text("g@example.com"));

    assertThat(ada.columns().get("name")).isEqualTo(ColumnValue.text("Ada"));
    assertThat(ada.columns().get("email")).isSameAs(ColumnValue.NULL);
    assertThat(grace.columns().get("name")).isEqualTo(ColumnValue.text("Grace"));
    assertThat(grace.columns().get("email")).isEqualTo(ColumnValue.text("g@example.com"));
    assertThat(ada.columns()).isNotEqualTo(grace.columns());
  }

  @Test
  void columnNames_repeated_haveNoSharedForm() {
    assertThat(ColumnNames.of(List.of("id", "name", "id"))).isEmpty();
  }

  @Test
  void columnNames_valuesOfAnotherCount_refuse() {
    ColumnNames names = ColumnNames.of(List.of("id", "name")).orElseThrow();

    assertThatThrownBy(() -> names.row(new ColumnValue[] {ColumnValue.NULL}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1 values for the 2 columns [id, name]");
  }
}
