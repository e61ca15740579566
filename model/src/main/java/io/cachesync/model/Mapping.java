package io.cachesync.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Every mapped table, in the order of the mapping file. */
public record Mapping(List<TableMapping> tables) {

  public Mapping {
    tables = List.copyOf(tables);
    Map<TableId, TableMapping> seen = new LinkedHashMap<>();
    for (TableMapping table : tables) {
      if (seen.put(table.table(), table) != null) {
        throw new IllegalArgumentException(table.table() + " is mapped twice");
      }
    }
    for (int i = 0; i < tables.size(); i++) {
      for (int j = i + 1; j < tables.size(); j++) {
        if (tables.get(i).key().mayCollideWith(tables.get(j).key())) {
          throw new IllegalArgumentException(
              "keys of "
                  + tables.get(i).table()
                  + " and "
                  + tables.get(j).table()
                  + " could collide");
        }
      }
    }
  }

  public Optional<TableMapping> table(TableId id) {
    return tables.stream().filter(t -> t.table().equals(id)).findFirst();
  }
}
