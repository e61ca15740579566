package io.cachesync.source;

import io.cachesync.state.StateStore;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.connect.runtime.WorkerConfig;
import org.apache.kafka.connect.storage.MemoryOffsetBackingStore;

/**
 * Keeps Debezium's offsets in the synchronizer's {@link StateStore} in Redis. Debezium creates this
 * class by name, so the store it writes to is looked up in a registry by the synchronizer's name.
 * Debezium writes offsets only for records the consumer marked processed, that is after Redis
 * acknowledged them, and confirms the slot only after this store saved them (invariant 3).
 */
public final class RedisOffsetBackingStore extends MemoryOffsetBackingStore {
  /** The engine property naming the registered store. */
  public static final String STORE_PROPERTY = "cachesync.state.store";

  private static final Map<String, StateStore> STORES = new ConcurrentHashMap<>();
  private static final Base64.Encoder ENCODER = Base64.getEncoder();
  private static final Base64.Decoder DECODER = Base64.getDecoder();

  private StateStore store;

  static void register(String name, StateStore store) {
    STORES.put(name, store);
  }

  static void unregister(String name) {
    STORES.remove(name);
  }

  @Override
  public void configure(WorkerConfig config) {
    super.configure(config);
    String name = config.originalsStrings().get(STORE_PROPERTY);
    store = STORES.get(name);
    if (store == null) {
      throw new IllegalStateException("no state store registered as '" + name + "'");
    }
  }

  @Override
  public synchronized void start() {
    super.start();
    for (Map.Entry<String, String> entry : store.offsets().entrySet()) {
      data.put(
          ByteBuffer.wrap(DECODER.decode(entry.getKey())),
          ByteBuffer.wrap(DECODER.decode(entry.getValue())));
    }
  }

  @Override
  protected void save() {
    Map<String, String> encoded = new HashMap<>();
    for (Map.Entry<ByteBuffer, ByteBuffer> entry : data.entrySet()) {
      if (entry.getKey() != null && entry.getValue() != null) {
        encoded.put(encode(entry.getKey()), encode(entry.getValue()));
      }
    }
    store.saveOffsets(encoded);
  }

  private static String encode(ByteBuffer buffer) {
    ByteBuffer copy = buffer.duplicate();
    byte[] bytes = new byte[copy.remaining()];
    copy.get(bytes);
    return ENCODER.encodeToString(bytes);
  }

  @Override
  public Set<Map<String, Object>> connectorPartitions(String connectorName) {
    return Set.of();
  }
}
