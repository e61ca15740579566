package io.cachesync.config;

import io.cachesync.model.KeyTemplate;
import io.cachesync.model.Mapping;
import io.cachesync.model.SyncMode;
import io.cachesync.model.TableId;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Ttl;
import io.cachesync.model.ValueFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Reads the mapping file: which tables are cached, under which keys, in which shape. */
final class MappingReader {
  static final List<String> ROOT_KEYS = List.of("tables");
  static final List<String> TABLE_KEYS =
      List.of("table", "key", "format", "mode", "columns", "ttl");

  /** The synchronizer keeps its state under this prefix; no table may write there. */
  static final String RESERVED_PREFIX = "cachesync:";

  /** Names of the metadata in cached values ({@code __v}, the version); no column may cache one. */
  static final String RESERVED_COLUMN_PREFIX = "__";

  private static final Pattern COLUMN = Pattern.compile("[A-Za-z_][A-Za-z0-9_$]*");

  /** A table read from the file, with the section it came from for later messages. */
  private record Entry(TableMapping table, Section section) {}

  private MappingReader() {}

  static Optional<Mapping> read(
      Path file, String displayName, Problems problems, Interpolator interpolator) {
    int before = problems.size();
    Optional<YamlNode> root = YamlDocument.read(file, displayName, problems);
    if (root.isEmpty()) {
      return Optional.empty();
    }
    if (root.get() instanceof YamlNode.Null) {
      problems.add(
          displayName, null, "", "the file is empty; list the tables to cache under 'tables:'");
      return Optional.empty();
    }
    Section.Source source = new Section.Source(displayName, problems, interpolator);
    Optional<Section> document = Section.open(source, "", root.get(), ROOT_KEYS);
    if (document.isEmpty()) {
      return Optional.empty();
    }
    document.get().requireKey("tables", "tables: [{table: public.users, key: 'user:{id}'}]");
    List<Section> sections = document.get().sections("tables", TABLE_KEYS).orElse(List.of());
    if (document.get().has("tables") && sections.isEmpty() && problems.size() == before) {
      document.get().problem("tables", "no tables are mapped; add at least one");
    }
    List<Entry> entries = new ArrayList<>();
    for (Section section : sections) {
      table(section).ifPresent(table -> entries.add(new Entry(table, section)));
    }
    checkAcrossTables(entries);
    if (problems.size() != before) {
      return Optional.empty();
    }
    return Optional.of(new Mapping(entries.stream().map(Entry::table).toList()));
  }

  private static Optional<TableMapping> table(Section section) {
    Optional<TableId> table =
        section
            .requiredText("table", "table: public.users")
            .flatMap(t -> section.convert("table", t, TableId::parse));
    Optional<KeyTemplate> key =
        section
            .requiredText("key", "key: 'user:{id}'")
            .flatMap(k -> section.convert("key", k, MappingReader::key));
    ValueFormat format =
        section
            .choice("format", ValueFormat.values(), ValueFormat::configName)
            .orElse(TableMapping.DEFAULT_FORMAT);
    SyncMode mode =
        section
            .choice("mode", SyncMode.values(), SyncMode::configName)
            .orElse(TableMapping.DEFAULT_MODE);
    Optional<List<String>> columns = columns(section, key);
    if (mode == SyncMode.WRITE
        && columns.isPresent()
        && !reservedColumns(section, table, key, columns.get())) {
      columns = Optional.empty();
    }
    Optional<Ttl> ttl = section.value("ttl", Ttl::parse);
    if (ttl.isPresent() && mode == SyncMode.EVICT) {
      section.problem(
          "ttl", "mode evict never writes, so a ttl has no effect; remove ttl or use mode write");
    }
    if (table.isEmpty() || key.isEmpty() || (section.has("columns") && columns.isEmpty())) {
      return Optional.empty();
    }
    try {
      return Optional.of(
          new TableMapping(table.get(), key.get(), format, mode, columns.orElse(List.of()), ttl));
    } catch (IllegalArgumentException e) {
      section.problem("", e.getMessage());
      return Optional.empty();
    }
  }

  private static KeyTemplate key(String text) {
    KeyTemplate key = KeyTemplate.parse(text);
    if (key.literalPrefix().startsWith(RESERVED_PREFIX)
        || RESERVED_PREFIX.startsWith(key.literalPrefix())) {
      throw new IllegalArgumentException(
          "key '"
              + text
              + "': its prefix '"
              + key.literalPrefix()
              + "' overlaps '"
              + RESERVED_PREFIX
              + "', where the synchronizer keeps its own state; choose another prefix");
    }
    return key;
  }

  private static Optional<List<String>> columns(Section section, Optional<KeyTemplate> key) {
    Optional<List<String>> listed = section.textList("columns");
    if (listed.isEmpty()) {
      return Optional.empty();
    }
    List<String> columns = listed.get();
    boolean valid = true;
    if (columns.isEmpty()) {
      section.problem(
          "columns",
          "the list is empty; name the columns to cache, or remove 'columns' to cache all");
      valid = false;
    }
    Set<String> seen = new HashSet<>();
    for (String column : columns) {
      if (!COLUMN.matcher(column).matches()) {
        section.problem(
            "columns", "'" + column + "' is not a column name (letters, digits, _ and $)");
        valid = false;
      } else if (!seen.add(column)) {
        section.problem("columns", "column " + column + " is listed twice");
        valid = false;
      }
    }
    if (key.isPresent() && !columns.isEmpty()) {
      for (String placeholder : key.get().columns()) {
        if (!seen.contains(placeholder) && !placeholder.startsWith(RESERVED_COLUMN_PREFIX)) {
          section.problem(
              "key",
              "placeholder {"
                  + placeholder
                  + "} in key '"
                  + key.get()
                  + "' is not among columns ("
                  + String.join(", ", columns)
                  + "); add it to columns");
          valid = false;
        }
      }
    }
    return valid ? listed : Optional.empty();
  }

  /**
   * Whether no listed column has a name reserved for the metadata stored in cached values: a column
   * {@code __v} would overwrite the version.
   */
  private static boolean reservedColumns(
      Section section, Optional<TableId> table, Optional<KeyTemplate> key, List<String> columns) {
    boolean valid = true;
    String tableName = table.map(TableId::toString).orElse("the table");
    // A key column is always cached, so it cannot be left out: it must be renamed.
    for (String column : key.map(KeyTemplate::columns).orElse(java.util.Set.of())) {
      if (column.startsWith(RESERVED_COLUMN_PREFIX)) {
        section.problem(
            "key",
            "key column "
                + column
                + " of "
                + tableName
                + " starts with '__', which cachesync reserves for the metadata it stores in"
                + " cached values (__v is the version), and a key column is always cached; rename"
                + " it in PostgreSQL (ALTER TABLE "
                + tableName
                + " RENAME COLUMN "
                + column
                + " TO <name>) and use the new name in the key");
        valid = false;
      }
    }
    for (String column : columns) {
      if (column.startsWith(RESERVED_COLUMN_PREFIX)
          && !key.map(k -> k.columns().contains(column)).orElse(false)) {
        List<String> others =
            columns.stream().filter(c -> !c.startsWith(RESERVED_COLUMN_PREFIX)).toList();
        section.problem(
            "columns",
            "column "
                + column
                + " of "
                + tableName
                + " starts with '__', which cachesync reserves for the metadata it stores in"
                + " cached values (__v is the version), so caching it would overwrite them; list"
                + " the columns without it: columns: ["
                + String.join(", ", others)
                + "]");
        valid = false;
      }
    }
    return valid;
  }

  private static void checkAcrossTables(List<Entry> entries) {
    for (int j = 0; j < entries.size(); j++) {
      Entry later = entries.get(j);
      for (int i = 0; i < j; i++) {
        Entry earlier = entries.get(i);
        if (earlier.table().table().equals(later.table().table())) {
          later
              .section()
              .problem(
                  "table",
                  later.table().table()
                      + " is already mapped at line "
                      + earlier.section().locationOf("table").line()
                      + "; map each table once");
        } else if (earlier.table().key().mayCollideWith(later.table().key())) {
          later
              .section()
              .problem(
                  "key",
                  "keys of '"
                      + later.table().key()
                      + "' could collide with keys of '"
                      + earlier.table().key()
                      + "' ("
                      + earlier.table().table()
                      + ", line "
                      + earlier.section().locationOf("key").line()
                      + "): the prefix '"
                      + later.table().key().literalPrefix()
                      + "' overlaps '"
                      + earlier.table().key().literalPrefix()
                      + "'; give each table a prefix that does not start the other");
        }
      }
    }
  }
}
