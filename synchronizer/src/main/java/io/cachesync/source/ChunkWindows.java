package io.cachesync.source;

import io.cachesync.model.ChangeEvent;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.KeyRenderException;
import io.cachesync.model.Row;
import io.cachesync.model.TableMapping;
import io.cachesync.model.Version;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The watermark windows of cachesync's chunked loads (Netflix's DBLog), shared by the thread that
 * reads the chunks ({@link ChunkedLoads}) and the stream's thread.
 *
 * <p>For each chunk the reader registers it, writes a low watermark into the WAL (a transactional
 * logical decoding message), reads the chunk's rows, hands them over and writes a high watermark.
 * The stream's thread opens the chunk's window at the low watermark and notes the key of every
 * change to the chunk's table it streams inside the window; at the high watermark it drops the
 * chunk's rows with those keys and puts the rest into the stream, at the high watermark's version.
 *
 * <p>Why that is exact. The chunk was read in a snapshot taken after the low watermark committed
 * and before the high one did. A row whose key no change inside the window touched held, when the
 * chunk was read, what it holds at the high watermark; a change after the window comes later in the
 * stream, with a higher version. A row changed inside the window is written by its streamed change,
 * and its chunk copy, which may be older, is dropped; a row deleted inside the window is therefore
 * never written back, whatever the chunk read. A row deleted before the window is not in the chunk.
 *
 * <p>Messages are database-wide (every slot decodes them): each carries this source's run id, so a
 * window is opened only by the watermarks of the reader that registered it.
 */
final class ChunkWindows {
  /** The prefix of every watermark message of the synchronizer named {@code name}. */
  static String prefix(String name) {
    return "cachesync_watermark_" + name;
  }

  private final String prefix;
  private final String runId;
  private final AtomicLong sequence = new AtomicLong();
  private final Map<Long, Chunk> chunks = new ConcurrentHashMap<>();

  /**
   * The transactions the stream decoded (their 32-bit ids), each with its place along the stream,
   * in a slot of its own id modulo {@link #DECODED_SLOTS}: a chunk's high watermark looks up which
   * of the transactions its snapshot missed were decoded before its low watermark. A transaction is
   * forgotten only once one whose id is {@code DECODED_SLOTS} higher is decoded. Stream's thread
   * only. (3 MB of arrays rather than a map: no entry per transaction, no eviction by count.)
   */
  static final int DECODED_SLOTS = 1 << 18;

  private final int[] decodedIds = new int[DECODED_SLOTS];
  private final long[] decodedAt = new long[DECODED_SLOTS];
  private long decodedCount;

  /**
   * Transactions in progress when this daemon's loads began (32-bit ids): one of them may have
   * committed, and been decoded by the daemon before this one, while still not visible. A chunk
   * whose snapshot missed one this daemon has not decoded is read again once it is visible, or once
   * it proved to be still running ({@link #cleared}).
   */
  private final Set<Integer> suspects = ConcurrentHashMap.newKeySet();

  ChunkWindows(String name) {
    this.prefix = prefix(name);
    this.runId = java.util.UUID.randomUUID().toString();
  }

  String prefix() {
    return prefix;
  }

  /** Registers a chunk of {@code table} that writes every key's row. */
  Chunk register(TableMapping table) {
    return register(table, key -> true);
  }

  /**
   * Registers a chunk of {@code table}; its watermarks come from {@link Chunk#low()} and high.
   *
   * @param keys the keys whose rows the chunk writes (see {@link LoadRequest#keys()})
   */
  Chunk register(TableMapping table, java.util.function.Predicate<String> keys) {
    Chunk chunk = new Chunk(sequence.incrementAndGet(), table, keys);
    chunks.put(chunk.id, chunk);
    return chunk;
  }

  /** Forgets a chunk (applied, or given up): its watermarks, if they come, are ignored. */
  void forget(Chunk chunk) {
    chunks.remove(chunk.id);
  }

  /** Fails every chunk still waiting: the stream stops. */
  void abandonAll(Exception why) {
    for (Chunk chunk : chunks.values()) {
      chunk.applied.completeExceptionally(why);
    }
    chunks.clear();
  }

  /** Notes a transaction the stream decoded a change of (stream's thread). */
  void decoded(long xid) {
    int id = (int) xid;
    int slot = id & (DECODED_SLOTS - 1);
    // The first time counts: a replay after a reconnect decodes it again, later along.
    if (decodedIds[slot] != id || decodedAt[slot] == 0) {
      decodedIds[slot] = id;
      decodedAt[slot] = ++decodedCount;
    }
  }

  /** Where along the stream the transaction was first decoded; 0 when it was not. */
  private long decodedAt(long xid) {
    int id = (int) xid;
    int slot = id & (DECODED_SLOTS - 1);
    return decodedIds[slot] == id ? decodedAt[slot] : 0;
  }

  /** Records the transactions in progress as this daemon's loads begin (see {@link #suspects}). */
  void suspect(List<Long> xids) {
    xids.forEach(xid -> suspects.add((int) (long) xid));
  }

  /** Transactions that stayed in progress long after they were suspected: running, not stuck. */
  void cleared(List<Long> xids) {
    xids.forEach(xid -> suspects.remove((int) (long) xid));
  }

  /** Whether some window is open: only then must the stream's changes be observed. */
  boolean anyOpen() {
    for (Chunk chunk : chunks.values()) {
      if (chunk.open) {
        return true;
      }
    }
    return false;
  }

  /**
   * Keys whose change the stream could not write (see {@link
   * io.cachesync.sync.ChangeSink#missedKeys()}), until a chunk writes them: a load that writes only
   * some keys writes these too. Bounded: past {@link #MISSED_LIMIT} a key is no longer noted (it
   * stays a cache miss, as such a key does outside a load).
   */
  private final Set<String> missed = new HashSet<>();

  static final int MISSED_LIMIT = 100_000;

  /**
   * Notes keys a batch left missing although a change wrote them (stream's thread). A chunk whose
   * window saw a change of one of them is read again: the stream did not write the row, and the
   * chunk would leave it to the stream.
   */
  void missed(Set<String> keys) {
    if (keys.isEmpty()) {
      return;
    }
    for (String key : keys) {
      if (missed.size() < MISSED_LIMIT) {
        missed.add(key);
      }
    }
    for (Chunk chunk : chunks.values()) {
      for (String key : keys) {
        if (chunk.changedKeys.contains(key) && chunk.unsure == null) {
          chunk.unsure =
              "a change inside its window could not be written to its key ("
                  + io.cachesync.model.DisplayText.of(key)
                  + ", left missing)";
        }
      }
    }
  }

  /**
   * Notes a streamed change inside every open window of its table (stream's thread).
   *
   * <p>A TRUNCATE drops the whole chunk.
   */
  void observe(ChangeEvent event) {
    for (Chunk chunk : chunks.values()) {
      if (chunk.open && chunk.table.table().equals(event.table())) {
        chunk.observe(event);
      }
    }
  }

  /**
   * Handles a logical decoding message (stream's thread): opens a window at a low watermark; at a
   * high watermark returns the chunk it closes, whose rows are then put in the stream.
   *
   * @param version the message's version along the stream
   */
  Chunk message(String messagePrefix, byte[] content, Version version) {
    if (!prefix.equals(messagePrefix) || content == null) {
      return null;
    }
    String[] parts = new String(content, StandardCharsets.UTF_8).split(" ");
    if (parts.length != 3 || !parts[0].equals(runId)) {
      return null; // another daemon's, or an earlier run's
    }
    Chunk chunk;
    try {
      chunk = chunks.get(Long.parseLong(parts[1]));
    } catch (NumberFormatException e) {
      return null;
    }
    if (chunk == null) {
      return null; // given up, or a replay of a window already closed
    }
    switch (parts[2]) {
      case "low" -> {
        if (!chunk.open) {
          chunk.lowMark = decodedCount;
          chunk.lowVersion = version;
        }
        chunk.open = true; // a replay reopens it and keeps the keys seen so far
      }
      case "high" -> {
        if (chunk.closed) {
          return null; // a replay: the chunk's rows were put in the stream already
        }
        chunk.closed = true;
        boolean opened = chunk.open;
        chunk.open = false;
        if (!chunk.rows.isDone() || !opened || chunk.unsure != null) {
          // The first two cannot happen: the rows are handed over before the high watermark is
          // written, after the low one.
          chunks.remove(chunk.id);
          chunk.applied.completeExceptionally(
              new IllegalStateException(
                  !opened
                      ? "its high watermark came without its low one"
                      : !chunk.rows.isDone()
                          ? "its high watermark came before its rows"
                          : chunk.unsure));
          return null;
        }
        List<Long> missed = chunk.missedBeforeLow(true);
        List<Long> suspected = chunk.missedBeforeLow(false);
        if (!missed.isEmpty() || !suspected.isEmpty()) {
          chunks.remove(chunk.id);
          chunk.applied.completeExceptionally(new CommittedUnseen(missed, suspected));
          return null;
        }
        chunk.version = version;
        return chunk;
      }
      default -> {
        // not a watermark of this version of cachesync
      }
    }
    return null;
  }

  /**
   * A chunk's snapshot missed transactions the stream decoded before its low watermark: they had
   * committed, but were not visible yet. The chunk is read again once they are.
   */
  static final class CommittedUnseen extends Exception {
    private static final long serialVersionUID = 1L;
    private final List<Long> decoded;
    private final List<Long> suspected;

    CommittedUnseen(List<Long> decoded, List<Long> suspected) {
      super(
          "its snapshot missed "
              + (decoded.isEmpty()
                  ? ""
                  : "transactions " + decoded + " that committed before its low watermark")
              + (decoded.isEmpty() || suspected.isEmpty() ? "" : ", and ")
              + (suspected.isEmpty()
                  ? ""
                  : "transactions "
                      + suspected
                      + " in progress since before this daemon's loads began, which may have"
                      + " committed already"));
      this.decoded = List.copyOf(decoded);
      this.suspected = List.copyOf(suspected);
    }

    /** Committed before the low watermark (the stream decoded them): visible within moments. */
    List<Long> decoded() {
      return decoded;
    }

    /** Perhaps committed, perhaps still running; 64-bit ids as the snapshot gave them. */
    List<Long> suspected() {
      return suspected;
    }
  }

  /**
   * What became of a chunk's rows.
   *
   * @param loaded put in the stream
   * @param dropped left out because the stream changed their key inside the window
   */
  record Applied(int loaded, int dropped) {}

  /**
   * One chunk: its rows, once read, and the keys the stream changed inside its window. The window's
   * fields are the stream thread's; the rows are handed over through a future before the high
   * watermark is written.
   */
  final class Chunk {
    private final long id;
    private final TableMapping table;
    private final java.util.function.Predicate<String> keys;
    private final CompletableFuture<List<Row>> rows = new CompletableFuture<>();
    private volatile List<Long> unseen = List.of();
    private long lowMark;
    private Version lowVersion = Version.ZERO;

    /** Why the window cannot tell which rows changed, if it cannot. */
    private String unsure;

    /** Completed once a batch holding the chunk's rows that were put in the stream is applied. */
    final CompletableFuture<Applied> applied = new CompletableFuture<>();

    private final Set<String> changedKeys = new HashSet<>();
    private volatile boolean open;
    private boolean closed;
    private boolean truncated;
    private Version version;

    private Chunk(long id, TableMapping table, java.util.function.Predicate<String> keys) {
      this.id = id;
      this.table = table;
      this.keys = keys;
    }

    TableMapping table() {
      return table;
    }

    /** Why the chunk cannot be written and must be read again, or null. */
    String unsure() {
      return unsure;
    }

    /** The low watermark's content. */
    String low() {
      return runId + " " + id + " low";
    }

    /** The high watermark's content. */
    String high() {
      return runId + " " + id + " high";
    }

    /** How many rows the chunk read. */
    int rowsRead() {
      return rows.join().size();
    }

    /**
     * Hands the chunk's rows to the stream; called before the high watermark is written.
     *
     * @param missed the transactions the chunk's snapshot did not see: its in-progress list and the
     *     ids at or past its {@code xmax} (64-bit ids)
     */
    void read(List<Row> read, List<Long> missed) {
      unseen = List.copyOf(missed);
      rows.complete(read);
    }

    /**
     * The transactions the snapshot missed that the stream decoded before the low watermark, or
     * that an earlier daemon may have decoded (suspects this daemon has not decoded).
     */
    private List<Long> missedBeforeLow(boolean decodedOnes) {
      List<Long> missed = new ArrayList<>();
      for (long xid : unseen) {
        long at = decodedAt(xid);
        if (decodedOnes ? at != 0 && at <= lowMark : at == 0 && suspects.contains((int) xid)) {
          missed.add(xid);
        }
      }
      return missed;
    }

    private void observe(ChangeEvent event) {
      if (event.version().compareTo(lowVersion) <= 0) {
        return; // replayed after a reconnect, from before the window: not inside it
      }
      if (event.kind() == ChangeEvent.Kind.TRUNCATE) {
        truncated = true;
        return;
      }
      addKey(event.before());
      addKey(event.after());
    }

    private void addKey(Row row) {
      if (row.columns().isEmpty()) {
        return;
      }
      try {
        changedKeys.add(table.key().render(row));
      } catch (KeyRenderException e) {
        // A key column the change does not carry (an unchanged TOASTed value): which row changed
        // is unknown, so the chunk is read again. Any other key that cannot be rendered belongs to
        // a row that is never cached, in the chunk or out of it.
        boolean keyUnknown =
            table.key().columns().stream()
                .anyMatch(column -> row.get(column).orElse(null) instanceof ColumnValue.Unchanged);
        if (keyUnknown && unsure == null) {
          unsure = "a change inside its window does not carry its key (" + e.getMessage() + ")";
        }
      }
    }

    /**
     * The chunk's rows the window did not see change, as load rows at the high watermark's version
     * (stream's thread, after the high watermark).
     */
    List<ChangeEvent> events() {
      List<Row> read = rows.join();
      List<ChangeEvent> events = new ArrayList<>(truncated ? 0 : read.size());
      if (truncated) {
        return events;
      }
      for (Row row : read) {
        String key;
        try {
          key = table.key().render(row);
        } catch (KeyRenderException e) {
          key = null; // the planner refuses the row and says why
        }
        if (key == null
            || (!changedKeys.contains(key) && (keys.test(key) || missed.contains(key)))) {
          missed.remove(key);
          events.add(
              new ChangeEvent(table.table(), ChangeEvent.Kind.SNAPSHOT, Row.EMPTY, row, version));
        }
      }
      return events;
    }
  }
}
