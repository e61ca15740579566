package io.cachesync.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cachesync.Backoff;
import io.cachesync.model.Version;
import io.cachesync.state.StateStore;
import io.lettuce.core.RedisException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.connect.runtime.WorkerConfig;
import org.apache.kafka.connect.storage.MemoryOffsetBackingStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps Debezium's offsets in the synchronizer's {@link StateStore} in Redis. Debezium creates this
 * class by name, so the store it writes to is looked up in a registry by the synchronizer's name.
 * Debezium writes offsets only for records the consumer marked processed, that is after Redis
 * acknowledged them, and confirms the slot only after this store saved them (invariant 3).
 *
 * <p>Offsets are saved only while the state's epoch is the one the daemon started with: after the
 * dataset is lost the save is refused and the daemon told, so that stale offsets never mark a lost
 * cache as up to date (invariant 5).
 */
public final class RedisOffsetBackingStore extends MemoryOffsetBackingStore {
  /** The engine property naming the registered store. */
  public static final String STORE_PROPERTY = "cachesync.state.store";

  private static final Logger LOG = LoggerFactory.getLogger(RedisOffsetBackingStore.class);
  private static final Map<String, Registration> STORES = new ConcurrentHashMap<>();
  private static final Base64.Encoder ENCODER = Base64.getEncoder();
  private static final Base64.Decoder DECODER = Base64.getDecoder();
  private static final ObjectMapper OFFSET_READER = new ObjectMapper();

  private Registration registration;

  /** Created by Debezium, by name; {@link #configure} finds its registration. */
  public RedisOffsetBackingStore() {}

  /** A store with its registration given, for tests. */
  RedisOffsetBackingStore(Registration registration) {
    this.registration = registration;
  }

  /** The first wait before reading the stored offsets again, doubled up to {@link #MAX_WAIT}. */
  private static final Duration FIRST_WAIT = Duration.ofMillis(100);

  private static final Duration MAX_WAIT = Duration.ofSeconds(5);

  /**
   * Where one engine's offsets go, whom to tell when the state they belong to is gone, and what
   * says the engine is being closed (a start waiting for Redis then gives up).
   */
  record Registration(
      StateStore store,
      String epoch,
      Supplier<Version> acknowledged,
      Runnable onStateLost,
      CountDownLatch closing) {}

  static void register(String name, Registration registration) {
    STORES.put(name, registration);
  }

  static void unregister(String name) {
    STORES.remove(name);
  }

  @Override
  public void configure(WorkerConfig config) {
    super.configure(config);
    String name = config.originalsStrings().get(STORE_PROPERTY);
    registration = STORES.get(name);
    if (registration == null) {
      throw new IllegalStateException("no state store registered as '" + name + "'");
    }
  }

  /**
   * Reads the stored offsets, waiting for Redis while it cannot be reached, as the rest of the
   * daemon does: a Redis restart or failover while the engine starts would otherwise fail the
   * engine, and the daemon with it. Once Redis answers again, a state whose epoch changed meanwhile
   * (Redis came back empty) is reported lost, which reloads every table.
   */
  @Override
  public synchronized void start() {
    super.start();
    Map<String, String> offsets;
    Backoff backoff = new Backoff(FIRST_WAIT, MAX_WAIT);
    boolean waited = false;
    while (true) {
      try {
        offsets = registration.store().offsets();
        break;
      } catch (RedisException e) {
        Duration wait = backoff.next();
        LOG.warn(
            "Could not read the stored position from Redis ({}); trying again in {} ms",
            e.getMessage(),
            wait.toMillis());
        waited = true;
        try {
          if (registration.closing().await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("stopped while waiting for Redis to start streaming");
          }
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while waiting for Redis", interrupted);
        }
      }
    }
    if (waited) {
      LOG.info("Read the stored position from Redis again");
      try {
        if (!registration.store().epoch().equals(java.util.Optional.of(registration.epoch()))) {
          registration.onStateLost().run();
        }
      } catch (RedisException e) {
        // Gone again: the first save of offsets and the housekeeper check the epoch too.
        LOG.warn("Could not check the state's epoch in Redis ({})", e.getMessage());
      }
    }
    for (Map.Entry<String, String> entry : offsets.entrySet()) {
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
    if (!registration
        .store()
        .saveOffsets(registration.epoch(), registration.acknowledged().get(), encoded)) {
      registration.onStateLost().run();
    }
  }

  /**
   * The furthest WAL position named in stored offsets (Debezium's {@code lsn}, {@code lsn_proc} and
   * {@code lsn_commit}): the slot's consumer never confirms past it, so a slot confirmed further
   * was recreated or read by someone else, and the changes in between never reached Redis.
   */
  public static long furthestLsn(Map<String, String> offsets) {
    long furthest = 0;
    for (String value : offsets.values()) {
      try {
        JsonNode offset = OFFSET_READER.readTree(DECODER.decode(value));
        for (String field : new String[] {"lsn", "lsn_proc", "lsn_commit"}) {
          if (offset.path(field).canConvertToLong()) {
            furthest = Math.max(furthest, offset.path(field).asLong());
          }
        }
      } catch (IOException | IllegalArgumentException e) {
        // Not an offset Debezium wrote for PostgreSQL: it names no position.
      }
    }
    return furthest;
  }

  /**
   * Whether the stored offsets were written in the middle of the initial load (Debezium's {@code
   * snapshot} field without {@code snapshot_completed}). Debezium would read the tables again on
   * the existing slot, and label those rows with the slot's confirmed position, which can be older
   * than changes the interrupted run already streamed into Redis: the load would lower their
   * versions. A load on a new slot is labelled with a position past everything in Redis.
   */
  public static boolean initialLoadInterrupted(Map<String, String> offsets) {
    for (String value : offsets.values()) {
      try {
        JsonNode offset = OFFSET_READER.readTree(DECODER.decode(value));
        if (offset.hasNonNull("snapshot") && !offset.path("snapshot_completed").asBoolean(false)) {
          return true;
        }
      } catch (IOException | IllegalArgumentException e) {
        // Not an offset Debezium wrote for PostgreSQL: it describes no load.
      }
    }
    return false;
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
