package io.cachesync.bench.workload;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * One change a workload offers at a fixed rate while the daemon runs caught up, to measure the lag
 * from its commit to Redis. Each run is one autocommitted statement that returns its transaction's
 * id ({@link #RETURNING_TRANSACTION}), so that its commit time can be read from PostgreSQL.
 */
public interface LagOperation {

  /** The end of every statement a run makes: its transaction's id, as a bigint. */
  String RETURNING_TRANSACTION = " RETURNING pg_current_xact_id()::text::bigint";

  /**
   * A change made and committed.
   *
   * @param key the Redis key the change writes or evicts
   * @param transaction its transaction's id ({@code pg_current_xact_id()})
   */
  record Change(String key, long transaction) {}

  /** The literal prefix of every key {@link #run} touches, e.g. {@code narrow:}. */
  String keyPrefix();

  /**
   * The keyspace event that shows the change applied in Redis: {@code hset} for a written row,
   * {@code del} for an evicted one.
   */
  String event();

  /** Makes the {@code index}-th change and commits it. */
  Change run(Connection connection, long index) throws SQLException;

  /**
   * The row changes one run makes; the offered rate counts changes, so runs are this much rarer.
   */
  default int changesPerRun() {
    return 1;
  }

  /**
   * How many runs the rows made for this operation allow; {@link Long#MAX_VALUE} when unbounded.
   */
  default long capacity() {
    return Long.MAX_VALUE;
  }

  /**
   * Runs {@code statement}, which ends with {@link #RETURNING_TRANSACTION} and changes one row, and
   * returns the change of {@code key}.
   */
  static Change change(String key, PreparedStatement statement) throws SQLException {
    try (ResultSet row = statement.executeQuery()) {
      if (!row.next()) {
        throw new IllegalStateException("the change of " + key + " changed no row");
      }
      return new Change(key, row.getLong(1));
    }
  }
}
