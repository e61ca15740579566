package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Pins the message of every mapping-file problem: one fixture file per problem. */
class MappingProblemsTest {
  private static final Path FIXTURES = Path.of("src/test/resources/mapping");

  static Stream<Arguments> problems() {
    return Stream.of(
        Arguments.of(
            "bad-format.yml",
            List.of(
                "bad-format.yml:7:5: tables[1].format: 'hsah' is not one of hash, json (did you mean 'hash'?)")),
        Arguments.of(
            "bad-mode.yml",
            List.of("bad-mode.yml:4:5: tables[0].mode: 'invalidate' is not one of write, evict")),
        Arguments.of(
            "syntax-error.yml",
            List.of(
                "syntax-error.yml:5:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 3)")),
        Arguments.of(
            "bad-indent.yml",
            List.of(
                "bad-indent.yml:3:4: YAML syntax error: expected <block end>, but found '<block mapping start>' (while parsing a block collection at line 2)")),
        Arguments.of(
            "unknown-key.yml",
            List.of(
                "unknown-key.yml:4:5: tables[0].fromat: unknown key (did you mean 'format'?); known keys here: table, key, format, mode, columns, ttl")),
        Arguments.of(
            "unknown-root-key.yml",
            List.of(
                "unknown-root-key.yml:1:1: table: unknown key (did you mean 'tables'?); known keys here: tables",
                "unknown-root-key.yml:1:1: missing required key 'tables' (e.g. tables: [{table: public.users, key: 'user:{id}'}])")),
        Arguments.of(
            "wrong-type-columns.yml",
            List.of(
                "wrong-type-columns.yml:4:5: tables[0].columns: expected a list, got a string")),
        Arguments.of(
            "wrong-type-tables.yml",
            List.of("wrong-type-tables.yml:1:1: tables: expected a list, got a string")),
        Arguments.of(
            "wrong-type-key.yml",
            List.of("wrong-type-key.yml:3:5: tables[0].key: expected a single value, got a list")),
        Arguments.of(
            "missing-table.yml",
            List.of(
                "missing-table.yml:2:5: tables[0]: missing required key 'table' (e.g. table: public.users)")),
        Arguments.of(
            "missing-key.yml",
            List.of(
                "missing-key.yml:2:5: tables[0]: missing required key 'key' (e.g. key: 'user:{id}')")),
        Arguments.of(
            "key-unclosed.yml",
            List.of(
                "key-unclosed.yml:3:5: tables[0].key: key 'user:{id': unclosed '{' at position 6 (write '{{' for a literal brace)")),
        Arguments.of(
            "key-unmatched-close.yml",
            List.of(
                "key-unmatched-close.yml:3:5: tables[0].key: key 'user:id}': unmatched '}' at position 8 (write '}}' for a literal brace)")),
        Arguments.of(
            "key-empty-placeholder.yml",
            List.of(
                "key-empty-placeholder.yml:3:5: tables[0].key: key 'user:{}': empty placeholder '{}' at position 6 (name a column)")),
        Arguments.of(
            "key-unknown-placeholder.yml",
            List.of(
                "key-unknown-placeholder.yml:3:5: tables[0].key: key 'user:{id|upper}': unknown placeholder '{id|upper}' at position 6: a placeholder is a column name (letters, digits, _ and $)")),
        Arguments.of(
            "key-not-in-columns.yml",
            List.of(
                "key-not-in-columns.yml:3:5: tables[0].key: placeholder {uid} in key 'user:{uid}' is not among columns (id, name, email); add it to columns")),
        Arguments.of(
            "reserved-column.yml",
            List.of(
                "reserved-column.yml:4:5: tables[0].columns: column __v of public.users starts with '__', which cachesync reserves for the metadata it stores in cached values (__v is the version), so caching it would overwrite them; list the columns without it: columns: [id, name]")),
        Arguments.of(
            "reserved-key-column.yml",
            List.of(
                "reserved-key-column.yml:3:5: tables[0].key: key column __id of public.users starts with '__', which cachesync reserves for the metadata it stores in cached values (__v is the version), and a key column is always cached; rename it in PostgreSQL (ALTER TABLE public.users RENAME COLUMN __id TO <name>) and use the new name in the key")),
        Arguments.of(
            "key-adjacent.yml",
            List.of(
                "key-adjacent.yml:3:5: tables[0].key: key 'line:{order_id}{line_no}': placeholders {order_id} and {line_no} are adjacent, so two rows could get the same key; put literal text between them, e.g. '{order_id}:{line_no}'")),
        Arguments.of(
            "key-no-placeholder.yml",
            List.of(
                "key-no-placeholder.yml:3:5: tables[0].key: key 'users': no {column} placeholder, so every row would share one key (e.g. 'user:{id}')")),
        Arguments.of(
            "key-no-prefix.yml",
            List.of(
                "key-no-prefix.yml:3:5: tables[0].key: key '{id}:user': must start with literal text such as 'user:', the prefix that keeps its keys apart from other tables' keys and finds them on TRUNCATE")),
        Arguments.of(
            "key-reserved-prefix.yml",
            List.of(
                "key-reserved-prefix.yml:3:5: tables[0].key: key 'cachesync:{id}': its prefix 'cachesync:' overlaps 'cachesync:', where the synchronizer keeps its own state; choose another prefix")),
        Arguments.of(
            "duplicate-table.yml",
            List.of(
                "duplicate-table.yml:4:5: tables[1].table: public.users is already mapped at line 2; map each table once")),
        Arguments.of(
            "colliding-keys.yml",
            List.of(
                "colliding-keys.yml:5:5: tables[1].key: keys of 'user:{id}' could collide with keys of 'user:{id}' (public.users, line 3): the prefix 'user:' overlaps 'user:'; give each table a prefix that does not start the other")),
        Arguments.of(
            "overlapping-keys.yml",
            List.of(
                "overlapping-keys.yml:5:5: tables[1].key: keys of 'user:{id}:profile' could collide with keys of 'u{id}' (public.users, line 3): the prefix 'user:' overlaps 'u'; give each table a prefix that does not start the other")),
        Arguments.of(
            "shared-prefix-keys.yml",
            List.of(
                "shared-prefix-keys.yml:5:5: tables[1].key: keys of 'user:{id}:profile' could collide with keys of 'user:{id}' (public.users, line 3): the prefix 'user:' overlaps 'user:'; give each table a prefix that does not start the other")),
        Arguments.of(
            "bad-ttl-zero.yml",
            List.of(
                "bad-ttl-zero.yml:4:5: tables[0].ttl: '0s' is not a positive duration (write a number and a unit: 90s, 15m, 1h, 7d)")),
        Arguments.of(
            "bad-ttl-unit.yml",
            List.of(
                "bad-ttl-unit.yml:4:5: tables[0].ttl: '90' is not a positive duration (write a number and a unit: 90s, 15m, 1h, 7d)")),
        Arguments.of(
            "bad-ttl-negative.yml",
            List.of(
                "bad-ttl-negative.yml:4:5: tables[0].ttl: '-5m' is not a positive duration (write a number and a unit: 90s, 15m, 1h, 7d)")),
        Arguments.of(
            "ttl-with-evict.yml",
            List.of(
                "ttl-with-evict.yml:5:5: tables[0].ttl: mode evict never writes, so a ttl has no effect; remove ttl or use mode write")),
        Arguments.of(
            "empty-columns.yml",
            List.of(
                "empty-columns.yml:4:5: tables[0].columns: the list is empty; name the columns to cache, or remove 'columns' to cache all")),
        Arguments.of(
            "duplicate-column.yml",
            List.of("duplicate-column.yml:4:5: tables[0].columns: column id is listed twice")),
        Arguments.of(
            "bad-table-name.yml",
            List.of(
                "bad-table-name.yml:2:5: tables[0].table: 'users' is not a schema.table name (write it as schema.table, e.g. public.users)")),
        Arguments.of(
            "empty-file.yml",
            List.of("empty-file.yml: the file is empty; list the tables to cache under 'tables:'")),
        Arguments.of(
            "no-tables.yml",
            List.of("no-tables.yml:1:1: tables: no tables are mapped; add at least one")),
        Arguments.of(
            "duplicate-yaml-key.yml",
            List.of(
                "duplicate-yaml-key.yml:4:5: tables[0].key: duplicate key 'key' (first given at line 3)")),
        Arguments.of(
            "env-missing.yml",
            List.of(
                "env-missing.yml:3:5: tables[0].key: environment variable CACHESYNC_TEST_UNSET is not set (export it, or give a default: ${CACHESYNC_TEST_UNSET:-value})")),
        Arguments.of(
            "several-problems.yml",
            List.of(
                "several-problems.yml:8:5: tables[1].colums: unknown key (did you mean 'columns'?); known keys here: table, key, format, mode, columns, ttl",
                "several-problems.yml:3:5: tables[0].key: key 'user:{id': unclosed '{' at position 6 (write '{{' for a literal brace)",
                "several-problems.yml:4:5: tables[0].format: 'hsah' is not one of hash, json (did you mean 'hash'?)",
                "several-problems.yml:5:5: tables[1].table: 'orders' is not a schema.table name (write it as schema.table, e.g. public.users)",
                "several-problems.yml:7:5: tables[1].ttl: 'soon' is not a positive duration (write a number and a unit: 90s, 15m, 1h, 7d)")));
  }

  @org.junit.jupiter.api.Test
  void read_prefixesThatShareTheirStartAndHoldGlobCharacters_areValidWhenNoneStartsAnother() {
    Problems problems = new Problems();

    var mapping =
        MappingReader.read(
            FIXTURES.resolve("confusable-keys.yml"),
            "confusable-keys.yml",
            problems,
            new Interpolator(Map.of()));

    assertThat(problems.list()).isEmpty();
    assertThat(mapping.orElseThrow().tables())
        .map(table -> table.key().prefixGlob())
        .containsExactly("user:*", "users:*", "user\\\\\\*\\[:*", "user{x}:*", "user.*");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("problems")
  void read_invalidMapping_reportsEveryProblemWithFileLineColumnAndPath(
      String fixture, List<String> expected) {
    Problems problems = new Problems();

    var mapping =
        MappingReader.read(
            FIXTURES.resolve(fixture), fixture, problems, new Interpolator(Map.of()));

    assertThat(mapping).isEmpty();
    assertThat(problems.list()).map(Problem::toString).containsExactlyElementsOf(expected);
  }
}
