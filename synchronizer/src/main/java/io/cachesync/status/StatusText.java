package io.cachesync.status;

import io.cachesync.model.Version;
import io.cachesync.source.ReplicationSlots.SlotRetention;
import io.cachesync.source.ReplicationSlots.WalView;
import io.cachesync.status.StatusFacts.RedisFacts;
import io.cachesync.status.StatusFacts.StoredPosition;
import io.cachesync.status.StatusFacts.TableKeys;
import io.cachesync.status.StatusFacts.Writer;
import io.cachesync.status.StatusVerdict.Reason;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The human form of {@code cachesync status}, on one screen: the verdict and its reasons, then the
 * slot, the position, the writer's role, the pending work and the tables' keys.
 */
public final class StatusText {
  private StatusText() {}

  public static void print(PrintWriter out, StatusFacts facts, StatusVerdict verdict) {
    out.println(
        "cachesync "
            + facts.name()
            + ": "
            + verdict.verdict().label().toUpperCase(Locale.ROOT)
            + switch (verdict.verdict()) {
              case OK -> " (streaming, nothing pending)";
              case ATTENTION -> " (needs attention)";
              case UNREACHABLE -> " (a server cannot be read)";
            });
    for (Reason reason : verdict.reasons()) {
      out.println("  - " + reason.message());
    }
    facts
        .postgres()
        .value()
        .ifPresentOrElse(
            wal -> {
              out.println(
                  line(
                      "postgres",
                      facts.postgresAddress() + ", WAL at " + Version.lsnText(wal.currentLsn())));
              out.println(line("slot", slot(facts.slotName(), wal)));
            },
            () -> out.println(line("postgres", facts.postgresAddress() + ": cannot be read")));
    Optional<RedisFacts> redis = facts.redis().value();
    if (redis.isEmpty()) {
      out.println(line("redis", facts.redisAddress() + ": cannot be read"));
      out.flush();
      return;
    }
    out.println(line("redis", facts.redisAddress() + ", " + count(redis.get().keys()) + " keys"));
    out.println(line("position", position(redis.get())));
    out.println(line("writer", writer(redis.get())));
    out.println(line("pending", pending(facts, redis.get())));
    out.println(line("tables", facts.mappedTables().size() + " mapped"));
    int tableWidth =
        redis.get().tables().stream().mapToInt(t -> t.table().length()).max().orElse(1);
    int keyWidth =
        redis.get().tables().stream().mapToInt(t -> t.keyPattern().length()).max().orElse(1);
    for (TableKeys table : redis.get().tables()) {
      out.printf(
          "  %-" + tableWidth + "s  %-" + keyWidth + "s  %s%n",
          table.table(),
          table.keyPattern(),
          keys(table));
    }
    out.flush();
  }

  private static String line(String label, String text) {
    return String.format("%-9s %s", label, text);
  }

  private static String slot(String name, WalView wal) {
    if (wal.slot().isEmpty()) {
      return name + ": does not exist";
    }
    SlotRetention slot = wal.slot().get();
    return name
        + ": "
        + (slot.slot().active()
            ? "active (pid " + slot.slot().activePid().map(String::valueOf).orElse("?") + ")"
            : "inactive")
        + ", confirmed "
        + Version.lsnText(slot.slot().confirmedFlushLsn())
        + ", restart "
        + slot.restartLsn().map(Version::lsnText).orElse("none")
        + ", wal "
        + slot.walStatus().orElse("?")
        + slot.retainedWalBytes().map(b -> ", retains " + bytes(b)).orElse("");
  }

  private static String position(RedisFacts redis) {
    if (redis.position().isEmpty()) {
      return "none stored"
          + redis
              .offsets()
              .map(o -> " (offsets at " + Version.lsnText(o.furthestLsn()) + ")")
              .orElse("");
    }
    StoredPosition position = redis.position().get();
    List<String> parts = new ArrayList<>();
    parts.add(position.version().toString());
    position.at().ifPresent(at -> parts.add("stored " + at));
    position.applied().ifPresent(lsn -> parts.add("applied " + Version.lsnText(lsn)));
    redis.offsets().ifPresent(o -> parts.add("offsets " + Version.lsnText(o.furthestLsn())));
    return String.join(", ", parts);
  }

  private static String writer(RedisFacts redis) {
    if (redis.writer().isEmpty()) {
      return "no daemon holds the role";
    }
    Writer writer = redis.writer().get();
    return writer.holder()
        + writer
            .ttl()
            .map(
                ttl ->
                    String.format(
                        Locale.ROOT,
                        ", lease expires in %.1f s unless renewed",
                        ttl.toMillis() / 1000.0))
            .orElse(", lease without expiry");
  }

  private static String pending(StatusFacts facts, RedisFacts redis) {
    List<String> parts = new ArrayList<>();
    redis.sweep().ifPresent(s -> parts.add("sweep"));
    if (redis.resyncQueued() > 0) {
      parts.add(redis.resyncQueued() + " resync queued");
    }
    if (redis.resyncTaken() > 0) {
      parts.add(redis.resyncTaken() + " resync running");
    }
    if (!redis.truncates().isEmpty()) {
      parts.add(redis.truncates().size() + " truncate evictions");
    }
    long notLoaded =
        facts.mappedTables().stream().filter(t -> !redis.loadedTables().contains(t)).count();
    if (notLoaded > 0) {
      parts.add(notLoaded + (notLoaded == 1 ? " table" : " tables") + " not loaded");
    }
    if (redis.offsets().map(o -> o.initialLoadInterrupted()).orElse(false)) {
      parts.add("initial load unfinished");
    }
    return parts.isEmpty() ? "nothing" : String.join(", ", parts);
  }

  private static String keys(TableKeys table) {
    return switch (table.estimate()) {
      case EXACT -> count(table.keys()) + " keys (exact)";
      case SAMPLED ->
          "~"
              + count(table.keys())
              + " keys (sampled from "
              + count(table.sampled())
              + " random keys)";
    };
  }

  private static String count(long count) {
    return String.format(Locale.ROOT, "%,d", count);
  }

  private static String bytes(long bytes) {
    if (bytes < 1024) {
      return bytes + " B of WAL";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s of WAL", value, units[unit]);
  }
}
