package io.cachesync.bench.workload;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;

/**
 * W5: one transaction inserting many narrow rows ({@code INSERT ... SELECT generate_series}).
 * PostgreSQL decodes the whole transaction (spilling to disk past {@code
 * logical_decoding_work_mem}) before it sends its first change, and the daemon must stream it
 * through a 256 MB heap.
 */
public final class LargeTransaction implements Workload {
  private final long rows;

  public LargeTransaction(long rows) {
    this.rows = rows;
  }

  @Override
  public String id() {
    return "W5";
  }

  @Override
  public String title() {
    return "one transaction";
  }

  @Override
  public List<String> schema() {
    return List.of(Workload.narrowTable("bulk"));
  }

  @Override
  public List<String> initialRows() {
    return List.of();
  }

  @Override
  public String mapping() {
    return "  - table: public.bulk\n    key: \"bulk:{id}\"\n";
  }

  @Override
  public long writeBacklog(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute(Workload.narrowRows("bulk", rows));
    }
    return rows;
  }

  @Override
  public Optional<LagOperation> lag() {
    return Optional.empty();
  }
}
