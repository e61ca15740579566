package io.cachesync.bench.workload;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * W4: an order-taking workload over three tables, one of them with a composite key. Transactions
 * come in groups of four: two place an order (insert the order and its three lines, update the
 * customer's balance: 5 changes each), one ships an order (1 update), one cancels an order (delete
 * its three lines and the order: 4 changes). So 15 changes per 4 transactions, of every kind.
 */
public final class MixedTables implements Workload {
  private static final int CUSTOMERS = 5_000;
  private static final int CHANGES_PER_GROUP = 15;

  /** Of a group's 15 changes, the ones that write a key (inserts and updates). */
  public static final int WRITES_PER_GROUP = 11;

  /** Of a group's 15 changes, the ones that evict a key (deletes). */
  public static final int EVICTIONS_PER_GROUP = CHANGES_PER_GROUP - WRITES_PER_GROUP;

  private static final String PLACE =
      "WITH o AS (INSERT INTO orders VALUES (%1$s, %2$s, 'new', 29.97, now())),"
          + " l AS (INSERT INTO order_lines SELECT %1$s, l, 'sku-' || l, l, 9.99 * l"
          + " FROM generate_series(1, 3) l)"
          + " UPDATE customers SET balance = balance + 29.97, updated = now() WHERE id = %2$s";

  private final long groups;

  /** The last order id any backlog or lag order took: each takes ids after it. */
  private final AtomicLong lastOrder = new AtomicLong();

  public MixedTables(long changes) {
    this.groups = Math.max(1, (changes + CHANGES_PER_GROUP - 1) / CHANGES_PER_GROUP);
  }

  @Override
  public String id() {
    return "W4";
  }

  @Override
  public String title() {
    return "mixed, 3 tables";
  }

  @Override
  public List<String> schema() {
    return List.of(
        "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL,"
            + " balance numeric(14,2) NOT NULL, updated timestamptz NOT NULL)",
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL,"
            + " status text NOT NULL, total numeric(12,2) NOT NULL, created timestamptz NOT NULL)",
        "CREATE TABLE order_lines (order_id bigint NOT NULL, line int NOT NULL, sku text NOT NULL,"
            + " qty int NOT NULL, price numeric(10,2) NOT NULL, PRIMARY KEY (order_id, line))");
  }

  @Override
  public List<String> initialRows() {
    return List.of(
        "INSERT INTO customers SELECT i, 'customer ' || i, 'c' || i || '@example.com', 0, now()"
            + " FROM generate_series(1, "
            + CUSTOMERS
            + ") i");
  }

  @Override
  public String mapping() {
    return "  - table: public.customers\n    key: \"customer:{id}\"\n"
        + "  - table: public.orders\n    key: \"order:{id}\"\n"
        + "  - table: public.order_lines\n    key: \"line:{order_id}:{line}\"\n";
  }

  /**
   * Transaction {@code i} (from the first multiple of 4 after the last order id taken) places order
   * {@code i} when {@code i % 4} is 0 or 1, ships order {@code i - 2} (placed two transactions
   * before) when it is 2, and cancels order {@code i - 2} when it is 3. A backlog may be written
   * again (the warm catch-up): the next one takes the next ids.
   */
  @Override
  public long writeBacklog(Connection connection) throws SQLException {
    String customer = "(i::bigint * 31) % " + CUSTOMERS + " + 1";
    long from = (lastOrder.get() / 4 + 1) * 4;
    long to = from + 4 * groups - 1;
    try (Statement statement = connection.createStatement()) {
      statement.execute(
          Workload.loop(
              from,
              to,
              "",
              "CASE i % 4 WHEN 0, 1 THEN "
                  + String.format(PLACE, "i", customer)
                  + "; WHEN 2 THEN UPDATE orders SET status = 'shipped' WHERE id = i - 2;"
                  + " ELSE DELETE FROM order_lines WHERE order_id = i - 2;"
                  + " DELETE FROM orders WHERE id = i - 2; END CASE;"));
    }
    lastOrder.set(to);
    return groups * CHANGES_PER_GROUP;
  }

  /** Places an order (5 changes in one transaction); lag is measured on the order's key. */
  @Override
  public Optional<LagOperation> lag() {
    return Optional.of(
        new LagOperation() {
          @Override
          public String keyPrefix() {
            return "order:";
          }

          @Override
          public String event() {
            return "hset";
          }

          @Override
          public int changesPerRun() {
            return 5;
          }

          @Override
          public Change run(Connection connection, long index) throws SQLException {
            long order = lastOrder.incrementAndGet();
            try (PreparedStatement place =
                connection.prepareStatement(
                    String.format(PLACE, "?::bigint", "?::bigint") + RETURNING_TRANSACTION)) {
              long customer = ThreadLocalRandom.current().nextInt(CUSTOMERS) + 1;
              place.setLong(1, order);
              place.setLong(2, customer);
              place.setLong(3, order);
              place.setLong(4, customer);
              return LagOperation.change("order:" + order, place);
            }
          }
        });
  }
}
