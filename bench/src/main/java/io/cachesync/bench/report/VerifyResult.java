package io.cachesync.bench.report;

import io.cachesync.bench.consumer.CachesyncJar;
import java.time.Duration;

/**
 * W8: {@code cachesync verify} of W7's table, whole job (JVM start included).
 *
 * @param rows the rows of the table
 * @param limit how long each run was allowed before it was stopped
 * @param consistent the run on the table as W7 loaded it: exit 0 expected
 * @param flushed the run after FLUSHDB of the synchronizer's Redis database: exit 1 expected
 */
public record VerifyResult(
    long rows, Duration limit, CachesyncJar.Outcome consistent, CachesyncJar.Outcome flushed) {}
