package io.cachesync.bench.measure;

/**
 * What a JVM process used at its peak.
 *
 * @param peakRssBytes the kernel's high-water mark of the resident set ({@code VmHWM} in {@code
 *     /proc/<pid>/status}): everything the process held in RAM at once, heap and off-heap
 * @param peakHeapUsedBytes the largest used heap (survivor, eden and old spaces) seen by {@code
 *     jstat -gc} sampling every 250 ms; a peak between two samples is missed, so this is a lower
 *     bound; -1 when no sample was taken
 */
public record Memory(long peakRssBytes, long peakHeapUsedBytes) {
  public static final Memory UNKNOWN = new Memory(-1, -1);

  public Memory max(Memory other) {
    return new Memory(
        Math.max(peakRssBytes, other.peakRssBytes),
        Math.max(peakHeapUsedBytes, other.peakHeapUsedBytes));
  }
}
