package io.cachesync.bench.workload;

import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * W3: deletes of narrow rows, one per transaction, in a scattered order (a permutation of the
 * keys); each evicts a cached key. The table also holds the rows the lag measurement deletes.
 */
public final class Deletes implements Workload {
  private final long deletes;
  private final long lagRows;
  private final long stride;
  private final AtomicLong lastLagId;

  /**
   * @param lagRows rows kept beyond the backlog for the lag measurement to delete
   */
  public Deletes(long deletes, long lagRows) {
    this.deletes = deletes;
    this.lagRows = lagRows;
    this.stride = coprimeStride(deletes);
    this.lastLagId = new AtomicLong(deletes);
  }

  /** A stride that visits every key of 1..n once: a prime that does not divide n. */
  private static long coprimeStride(long n) {
    long stride = 7919;
    while (BigInteger.valueOf(stride).gcd(BigInteger.valueOf(n)).longValue() != 1) {
      stride = BigInteger.valueOf(stride).nextProbablePrime().longValue();
    }
    return stride;
  }

  @Override
  public String id() {
    return "W3";
  }

  @Override
  public String title() {
    return "deletes";
  }

  @Override
  public List<String> schema() {
    return List.of(Workload.narrowTable("doomed"));
  }

  @Override
  public List<String> initialRows() {
    return List.of(Workload.narrowRows("doomed", deletes + lagRows));
  }

  @Override
  public String mapping() {
    return "  - table: public.doomed\n    key: \"doomed:{id}\"\n";
  }

  @Override
  public long writeBacklog(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute(
          Workload.loop(
              0,
              deletes - 1,
              "",
              "DELETE FROM doomed WHERE id = (i::bigint * " + stride + ") % " + deletes + " + 1;"));
    }
    return deletes;
  }

  @Override
  public Optional<LagOperation> lag() {
    return Optional.of(
        new LagOperation() {
          @Override
          public String keyPrefix() {
            return "doomed:";
          }

          @Override
          public String event() {
            return "del";
          }

          @Override
          public Change run(Connection connection, long index) throws SQLException {
            long id = lastLagId.incrementAndGet();
            try (PreparedStatement delete =
                connection.prepareStatement(
                    "DELETE FROM doomed WHERE id = ?" + RETURNING_TRANSACTION)) {
              delete.setLong(1, id);
              return LagOperation.change("doomed:" + id, delete);
            }
          }

          @Override
          public long capacity() {
            return deletes + lagRows - lastLagId.get();
          }
        });
  }
}
