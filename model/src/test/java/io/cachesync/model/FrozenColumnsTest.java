package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.model.CacheOperation.Write;
import java.util.LinkedHashMap;
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
    Map<String, ColumnValue> frozen = new Row(columns()).columns();

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
}
