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

  public static Version parse(String text) {
    if (text.length() != TEXT_LENGTH) {
      throw new IllegalArgumentException("'" + text + "' is not a version");
    }
    return new Version(
        Long.parseUnsignedLong(text.substring(0, 16), 16),
        Long.parseUnsignedLong(text.substring(16), 16));
  }

  public String text() {
    return hex(commit) + hex(lsn);
  }

  private static String hex(long value) {
    String digits = Long.toHexString(value);
    return "0".repeat(16 - digits.length()) + digits;
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
