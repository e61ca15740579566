package io.cachesync.bench.workload;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * W1: inserts of narrow rows (bigint key, three short columns), one row per transaction. Every
 * backlog and every lag insert takes the next keys, so a backlog may be written again (the warm
 * catch-up).
 */
public final class NarrowInserts implements Workload {
  private final long inserts;
  private final AtomicLong lastId;

  public NarrowInserts(long inserts) {
    this.inserts = inserts;
    this.lastId = new AtomicLong();
  }

  @Override
  public String id() {
    return "W1";
  }

  @Override
  public String title() {
    return "narrow inserts";
  }

  @Override
  public List<String> schema() {
    return List.of(Workload.narrowTable("narrow"));
  }

  @Override
  public List<String> initialRows() {
    return List.of();
  }

  @Override
  public String mapping() {
    return "  - table: public.narrow\n    key: \"narrow:{id}\"\n";
  }

  @Override
  public long writeBacklog(Connection connection) throws SQLException {
    long from = lastId.get() + 1;
    try (Statement statement = connection.createStatement()) {
      statement.execute(
          Workload.loop(
              from, from + inserts - 1, "", "INSERT INTO narrow VALUES (" + NARROW_VALUES + ");"));
    }
    lastId.addAndGet(inserts);
    return inserts;
  }

  @Override
  public Optional<LagOperation> lag() {
    return Optional.of(
        new LagOperation() {
          @Override
          public String keyPrefix() {
            return "narrow:";
          }

          @Override
          public String event() {
            return "hset";
          }

          @Override
          public Change run(Connection connection, long index) throws SQLException {
            long id = lastId.incrementAndGet();
            try (PreparedStatement insert =
                connection.prepareStatement(
                    "INSERT INTO narrow VALUES (?, 'name ' || ?, ? % 10, now())"
                        + RETURNING_TRANSACTION)) {
              insert.setLong(1, id);
              insert.setLong(2, id);
              insert.setLong(3, id);
              return LagOperation.change("narrow:" + id, insert);
            }
          }
        });
  }
}
