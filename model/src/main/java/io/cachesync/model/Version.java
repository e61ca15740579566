package io.cachesync.model;

/**
 * Where a change stands in the decoded WAL stream; every cached value stores the version it was
 * written at, and a write applies only when its version is not older (invariant 2).
 *
 * <p>The stream delivers transactions in commit order. A change's version is the pair (commit
 * position of the transaction decoded before it, the change's own LSN): non-decreasing along the
 * stream, and strictly increasing for the changes of any one row, because a row's changes are
 * serialized by its lock (a later transaction writes the row after the earlier one committed). The
 * change's own LSN alone would not do: a transaction that began before another committed can write
 * a row at an LSN below that commit.
 *
 * <p>A snapshot (initial load) row is written at {@code (snapshot LSN, 0)}: above every change
 * committed before the snapshot, below every change streamed after it.
 *
 * <p>In Redis the version is 32 hexadecimal digits, so that a Lua script compares it as a string
 * (Lua numbers are doubles and cannot hold a 64-bit LSN).
 */
public record Version(long commit, long lsn) implements Comparable<Version> {

  public static final Version ZERO = new Version(0, 0);

  /** The length of {@link #text()}. */
  public static final int TEXT_LENGTH = 32;

  public static Version snapshot(long snapshotLsn) {
    return new Version(snapshotLsn, 0);
  }

  /**
   * Whether this is an initial load's version, {@code (snapshot LSN, 0)}: a streamed change always
   * has its own LSN.
   */
  public boolean initialLoad() {
    return lsn == 0 && commit != 0;
  }

  /**
   * The version just below this streamed change's: above every change the stream delivered before
   * it, and no change's own, because WAL records start at 8-byte aligned LSNs.
   */
  public Version justBefore() {
    if (lsn == 0) {
      throw new IllegalStateException(this + " is not a streamed change's version");
    }
    return new Version(commit, lsn - 1);
  }

  /**
   * The WAL position this streamed version proves the cache complete up to: once Redis stores a
   * batch ending at this version, every transaction whose commit record ends at or before {@code
   * applied()} is wholly applied (each of its changes written, or older than what Redis holds). It
   * is {@code max(commit, lsn)}, unsigned.
   *
   * <p>Why. Transactions reach the stream whole and in commit order (pgoutput without streaming of
   * transactions in progress), and a batch's position is stored only with every record before it.
   * Let X be this version's transaction and c a transaction whose commit record ends at or before
   * the bound. (1) {@code commit} is the commit LSN Debezium gave for the transaction decoded just
   * before X (the end of its commit record; the argument holds for its start too): a commit record
   * ending at or before it is that one's or an earlier one's, decoded before X. (2) {@code lsn} is
   * the record's own position: a change's start, or a logical decoding message's end (what {@code
   * pg_logical_emit_message} returns). X's commit record comes after the record, so c's commit
   * record, ending at or before {@code lsn}, comes before X's: c was decoded before X. Either way
   * c's changes precede this version in the stream.
   *
   * <p>Never lower along the stream: within a transaction {@code commit} stays and {@code lsn}
   * grows; a later transaction's {@code commit} is at least the end of the earlier one's commit
   * record, which lies past every record of the earlier one. It is not monotonic in this class's
   * order over arbitrary pairs ({@code (1, 9)} sorts below {@code (2, 3)}), only over the versions
   * one stream delivers.
   *
   * @throws IllegalStateException for an initial load's version: the cache is complete only when
   *     the load ends
   */
  public long applied() {
    if (initialLoad()) {
      throw new IllegalStateException(this + " is an initial load's version");
    }
    return Long.compareUnsigned(commit, lsn) >= 0 ? commit : lsn;
  }

  /**
   * {@link #applied()} as 16 lowercase hexadecimal digits, zero-padded, so that comparing two as
   * strings compares them as numbers; as Redis stores it in the position hash's {@code applied}.
   */
  public String appliedText() {
    return hex(applied());
  }

  public static Version parse(String text) {
    if (text.length() != TEXT_LENGTH) {
      throw new IllegalArgumentException("'" + text + "' is not a version");
    }
    return new Version(
        Long.parseUnsignedLong(text.substring(0, 16), 16),
        Long.parseUnsignedLong(text.substring(16), 16));
  }

  public String text() {
    // Filled by hand: it is written with every cached value, and toHexString plus padding cost a
    // tenth of a load's stream thread.
    byte[] digits = new byte[TEXT_LENGTH];
    fill(digits, 0, commit);
    fill(digits, 16, lsn);
    return new String(digits, java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  private static final byte[] HEX =
      "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);

  private static void fill(byte[] digits, int at, long value) {
    for (int i = 15; i >= 0; i--) {
      digits[at + i] = HEX[(int) (value & 0xF)];
      value >>>= 4;
    }
  }

  private static String hex(long value) {
    byte[] digits = new byte[16];
    fill(digits, 0, value);
    return new String(digits, java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  @Override
  public int compareTo(Version other) {
    int byCommit = Long.compareUnsigned(commit, other.commit);
    return byCommit != 0 ? byCommit : Long.compareUnsigned(lsn, other.lsn);
  }

  @Override
  public String toString() {
    return lsnText(lsn) + " (after commit " + lsnText(commit) + ")";
  }

  /** An LSN as PostgreSQL prints it, e.g. {@code 0/16B3748}. */
  public static String lsnText(long lsn) {
    return Long.toHexString(lsn >>> 32).toUpperCase()
        + "/"
        + Long.toHexString(lsn & 0xFFFFFFFFL).toUpperCase();
  }
}
