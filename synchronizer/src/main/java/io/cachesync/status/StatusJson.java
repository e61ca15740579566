package io.cachesync.status;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cachesync.model.Version;
import io.cachesync.source.ReplicationSlots.SlotRetention;
import io.cachesync.source.ReplicationSlots.WalView;
import io.cachesync.status.StatusFacts.RedisFacts;
import io.cachesync.status.StatusFacts.StoredPosition;
import io.cachesync.status.StatusFacts.TableKeys;
import io.cachesync.status.StatusVerdict.Reason;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The {@code --json} form of {@code cachesync status}: one object whose fields are documented in
 * the README and stay stable. A part whose server could not be read is null; an LSN is an object of
 * its PostgreSQL text and its number.
 */
public final class StatusJson {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StatusJson() {}

  public static String of(StatusFacts facts, StatusVerdict verdict) {
    ObjectNode root = JSON.createObjectNode();
    root.put("name", facts.name());
    root.put("verdict", verdict.verdict().label());
    ArrayNode reasons = root.putArray("reasons");
    for (Reason reason : verdict.reasons()) {
      reasons.addObject().put("code", reason.code()).put("message", reason.message());
    }
    ObjectNode postgres = root.putObject("postgres");
    postgres.put("address", facts.postgresAddress());
    postgres.put("reachable", facts.postgres().value().isPresent());
    postgres.put("error", facts.postgres().error().orElse(null));
    lsn(postgres, "currentWalLsn", facts.postgres().value().map(WalView::currentLsn));
    ObjectNode redisNode = root.putObject("redis");
    redisNode.put("address", facts.redisAddress());
    redisNode.put("reachable", facts.redis().value().isPresent());
    redisNode.put("error", facts.redis().error().orElse(null));
    Optional<RedisFacts> redis = facts.redis().value();
    if (redis.isPresent()) {
      redisNode.put("keys", redis.get().keys());
    } else {
      redisNode.putNull("keys");
    }
    if (facts.postgres().value().isPresent()) {
      slot(root.putObject("slot"), facts.slotName(), facts.postgres().value().get().slot());
    } else {
      root.putNull("slot");
    }
    if (redis.isPresent()) {
      position(root.putObject("position"), redis.get());
      writer(root.putObject("writer"), redis.get());
      pending(root.putObject("pending"), facts, redis.get());
      ArrayNode tables = root.putArray("tables");
      for (TableKeys table : redis.get().tables()) {
        ObjectNode node = tables.addObject();
        node.put("table", table.table());
        node.put("keyPattern", table.keyPattern());
        node.put("keys", table.keys());
        node.put("estimate", table.estimate().label());
        node.put("sampled", table.sampled());
      }
    } else {
      root.putNull("position");
      root.putNull("writer");
      root.putNull("pending");
      root.putNull("tables");
    }
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void slot(ObjectNode node, String name, Optional<SlotRetention> slot) {
    node.put("name", name);
    node.put("exists", slot.isPresent());
    node.put("active", slot.map(s -> s.slot().active()).orElse(false));
    Optional<Integer> pid = slot.flatMap(s -> s.slot().activePid());
    if (pid.isPresent()) {
      node.put("activePid", pid.get());
    } else {
      node.putNull("activePid");
    }
    lsn(node, "confirmedFlushLsn", slot.map(s -> s.slot().confirmedFlushLsn()));
    lsn(node, "restartLsn", slot.flatMap(SlotRetention::restartLsn));
    node.put("walStatus", slot.flatMap(SlotRetention::walStatus).orElse(null));
    Optional<Long> retained = slot.flatMap(SlotRetention::retainedWalBytes);
    if (retained.isPresent()) {
      node.put("retainedWalBytes", retained.get());
    } else {
      node.putNull("retainedWalBytes");
    }
  }

  private static void position(ObjectNode node, RedisFacts redis) {
    Optional<StoredPosition> position = redis.position();
    node.put("stored", position.isPresent());
    node.put("version", position.map(p -> p.version().text()).orElse(null));
    lsn(node, "lsn", position.map(p -> p.version().lsn()));
    lsn(node, "commitLsn", position.map(p -> p.version().commit()));
    node.put("at", position.flatMap(StoredPosition::at).orElse(null));
    lsn(node, "appliedLsn", position.flatMap(StoredPosition::applied));
    lsn(node, "offsetsLsn", redis.offsets().map(o -> o.furthestLsn()));
    lsn(
        node,
        "heldLsn",
        position.isPresent() || redis.offsets().isPresent()
            ? Optional.of(StatusVerdict.heldLsn(redis))
            : Optional.empty());
  }

  private static void writer(ObjectNode node, RedisFacts redis) {
    node.put("held", redis.writer().isPresent());
    node.put("holder", redis.writer().map(StatusFacts.Writer::holder).orElse(null));
    Optional<Long> ttl = redis.writer().flatMap(StatusFacts.Writer::ttl).map(d -> d.toMillis());
    if (ttl.isPresent()) {
      node.put("ttlMillis", ttl.get());
    } else {
      node.putNull("ttlMillis");
    }
  }

  private static void pending(ObjectNode node, StatusFacts facts, RedisFacts redis) {
    node.put("sweep", redis.sweep().isPresent());
    node.put("resyncQueued", redis.resyncQueued());
    node.put("resyncTaken", redis.resyncTaken());
    ArrayNode truncates = node.putArray("truncates");
    new TreeSet<>(redis.truncates()).forEach(truncates::add);
    ArrayNode notLoaded = node.putArray("tablesNotLoaded");
    facts.mappedTables().stream()
        .filter(t -> !redis.loadedTables().contains(t))
        .forEach(notLoaded::add);
    node.put(
        "initialLoadInterrupted",
        redis.offsets().map(o -> o.initialLoadInterrupted()).orElse(false));
  }

  /** An LSN as {"text": "0/16B3748", "number": 23803720}, or null. */
  private static void lsn(ObjectNode node, String field, Optional<Long> lsn) {
    if (lsn.isEmpty()) {
      node.putNull(field);
      return;
    }
    node.putObject(field).put("text", Version.lsnText(lsn.get())).put("number", lsn.get());
  }
}
