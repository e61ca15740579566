package io.cachesync.bench.workload;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * W2: updates of wide rows, one per transaction. A row has 20 columns, about 1.3 KB inline (a
 * jsonb, six notes of 120 characters, an array, timestamps, numbers) and a 4 KB text stored out of
 * line (TOAST, {@code STORAGE EXTERNAL}) that the updates never touch, so PostgreSQL sends it as
 * unchanged and cachesync keeps the cached field. Keys are skewed: the key is {@code 1 + rows *
 * u^4} for a uniform u, so the hottest 1% of the rows take about 31% of the updates.
 */
public final class WideUpdates implements Workload {
  private static final String UPDATE =
      "UPDATE wide SET qty = qty + 1, updated = now(), revision = revision + 1,"
          + " attrs = jsonb_set(attrs, '{seen}', to_jsonb(%s)),"
          + " note1 = 'note ' || %s || ' ' || repeat('n', 100) WHERE id = %s";

  private final long updates;
  private final long rows;

  public WideUpdates(long updates, long rows) {
    this.updates = updates;
    this.rows = rows;
  }

  @Override
  public String id() {
    return "W2";
  }

  @Override
  public String title() {
    return "wide updates";
  }

  @Override
  public List<String> schema() {
    return List.of(
        "CREATE TABLE wide (id bigint PRIMARY KEY, tenant int NOT NULL, name text NOT NULL,"
            + " email text NOT NULL, status text NOT NULL, price numeric(12,2) NOT NULL,"
            + " qty int NOT NULL, created timestamptz NOT NULL, updated timestamptz NOT NULL,"
            + " active boolean NOT NULL, tags text[] NOT NULL, attrs jsonb NOT NULL,"
            + " note1 text, note2 text, note3 text, note4 text, note5 text, note6 text,"
            + " revision int NOT NULL, doc text NOT NULL)",
        "ALTER TABLE wide ALTER COLUMN doc SET STORAGE EXTERNAL");
  }

  @Override
  public List<String> initialRows() {
    String note = "'note ' || i || ' ' || repeat('n', 110)";
    return List.of(
        "INSERT INTO wide SELECT i, i % 100, 'name ' || i, 'user' || i || '@example.com',"
            + " 'active', (i % 1000) / 10.0, 0, now(), now(), true, ARRAY['a','b','c'],"
            + " jsonb_build_object('plan', 'pro', 'seats', i % 50, 'seen', 0,"
            + " 'region', 'eu-west-1', 'notes', repeat('j', 150),"
            + " 'features', jsonb_build_array('x', 'y', 'z')), "
            + String.join(", ", java.util.Collections.nCopies(6, note))
            + ", 0, repeat(md5(i::text), 128) FROM generate_series(1, "
            + rows
            + ") i");
  }

  @Override
  public String mapping() {
    return "  - table: public.wide\n    key: \"wide:{id}\"\n";
  }

  @Override
  public long writeBacklog(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement()) {
      statement.execute(
          Workload.loop(
              1,
              updates,
              "k bigint;",
              "k := 1 + floor("
                  + rows
                  + " * power(random(), 4))::bigint; "
                  + String.format(UPDATE, "i", "i", "k")
                  + ";"));
    }
    return updates;
  }

  @Override
  public Optional<LagOperation> lag() {
    return Optional.of(
        new LagOperation() {
          @Override
          public String keyPrefix() {
            return "wide:";
          }

          @Override
          public String event() {
            return "hset";
          }

          @Override
          public Change run(Connection connection, long index) throws SQLException {
            double u = ThreadLocalRandom.current().nextDouble();
            long id = 1 + (long) Math.floor(rows * Math.pow(u, 4));
            try (PreparedStatement update =
                connection.prepareStatement(
                    String.format(UPDATE, "?::bigint", "?", "?") + RETURNING_TRANSACTION)) {
              update.setLong(1, index);
              update.setLong(2, index);
              update.setLong(3, id);
              return LagOperation.change("wide:" + id, update);
            }
          }
        });
  }
}
