package io.cachesync.bench.consumer;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * What a first synchronizer would do: for every change, one synchronous command, waiting for its
 * reply before the next: {@code HSET} of the row's columns as text (no version, no script, no
 * transaction), or {@code DEL} for a delete. Keys are {@code <table>:<key columns>}, in Redis
 * database 1 so that they never mix with cachesync's.
 */
final class NaiveRedisWriter implements AutoCloseable {
  static final int DATABASE = 1;

  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final RedisCommands<String, String> redis;

  NaiveRedisWriter(String uri) {
    RedisURI target = RedisURI.create(uri);
    target.setDatabase(DATABASE);
    this.client = RedisClient.create(target);
    this.connection = client.connect();
    this.redis = connection.sync();
  }

  void write(SourceRecord record) {
    Struct value = (Struct) record.value();
    String key = key(record);
    if ("d".equals(value.getString("op"))) {
      redis.del(key);
      return;
    }
    Struct after = value.getStruct("after");
    Map<String, String> fields = new LinkedHashMap<>();
    for (Field field : after.schema().fields()) {
      Object column = after.get(field);
      if (column != null) {
        fields.put(field.name(), column.toString());
      }
    }
    redis.hset(key, fields);
  }

  private static String key(SourceRecord record) {
    String table = record.topic().substring(record.topic().lastIndexOf('.') + 1);
    Struct key = (Struct) record.key();
    return table
        + ":"
        + key.schema().fields().stream()
            .map(field -> String.valueOf(key.get(field)))
            .collect(Collectors.joining(":"));
  }

  @Override
  public void close() {
    connection.close();
    client.shutdown();
  }
}
