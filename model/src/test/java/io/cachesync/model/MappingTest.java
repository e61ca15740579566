package io.cachesync.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MappingTest {

  private static TableMapping table(String table, String key) {
    return new TableMapping(
        TableId.parse(table),
        KeyTemplate.parse(key),
        ValueFormat.HASH,
        SyncMode.WRITE,
        List.of(),
        Optional.empty());
  }

  @Test
  void new_sameTableTwice_isRefused() {
    assertThatThrownBy(
            () -> new Mapping(List.of(table("public.a", "a:{id}"), table("public.a", "b:{id}"))))
        .hasMessage("public.a is mapped twice");
  }

  @Test
  void new_collidingKeys_areRefused() {
    assertThatThrownBy(
            () -> new Mapping(List.of(table("public.a", "a:{id}"), table("public.b", "a:{id}:b"))))
        .hasMessage("keys of public.a and public.b could collide");
  }

  @Test
  void table_mappedTable_isFound() {
    Mapping mapping =
        new Mapping(List.of(table("public.a", "a:{id}"), table("public.b", "b:{id}")));

    assertThat(mapping.table(TableId.parse("public.b")))
        .map(TableMapping::key)
        .map(KeyTemplate::text)
        .contains("b:{id}");
    assertThat(mapping.table(TableId.parse("public.c"))).isEmpty();
  }

  @Test
  void new_keyColumnsMissingFromColumns_isRefused() {
    assertThatThrownBy(
            () ->
                new TableMapping(
                    TableId.parse("public.a"),
                    KeyTemplate.parse("a:{id}"),
                    ValueFormat.JSON,
                    SyncMode.WRITE,
                    List.of("name"),
                    Optional.empty()))
        .hasMessage("key 'a:{id}' of public.a uses columns missing from columns [name]");
  }
}
