package io.cachesync.bench.report;

import java.io.PrintStream;
import java.util.List;
import java.util.Optional;

/** Prints the metrics cost as a section of its own, after the result table. */
public final class MetricsCostSection {
  private final PrintStream out;

  public MetricsCostSection(PrintStream out) {
    this.out = out;
  }

  public void print(MetricsCost cost) {
    List<MetricsCost.Round> rounds = cost.rounds();
    out.printf(
        "metrics cost: W1 catch-up, %,d single-row inserts per round, metrics on (the endpoint"
            + " scraped every second) and off (http: off), alternating in pairs%n",
        rounds.get(0).drain().changes());
    out.printf(
        "%-8s %-8s %12s %22s %8s%n",
        "round", "metrics", "changes/s", "CPU s / 100k changes", "scrapes");
    for (int i = 0; i < rounds.size(); i++) {
      MetricsCost.Round round = rounds.get(i);
      out.printf(
          "%-8d %-8s %,12.0f %22s %8s%s%n",
          i + 1,
          round.metricsOn() ? "on" : "off",
          round.drain().rate(),
          cpu(round.cpu().map(d -> d.toNanos() / 1e9 / round.drain().changes() * 100_000)),
          round.metricsOn()
              ? round.scrapes()
                  + (round.failedScrapes() > 0 ? "+" + round.failedScrapes() + "!" : "")
              : "-",
          round.streamRetried() ? "  not counted (x)" : "");
    }
    out.printf(
        "%-17s %,12.0f %22s%n",
        "all on counted", cost.rate(true), cpu(cost.cpuSecondsPer100k(true)));
    out.printf(
        "%-17s %,12.0f %22s%n",
        "all off counted", cost.rate(false), cpu(cost.cpuSecondsPer100k(false)));
    out.printf(
        "cost = 1 - rate on / rate off = %.1f%%; target at most %.0f%%: %s%n",
        cost.cost() * 100, MetricsCost.TARGET * 100, cost.met() ? "met" : "MISSED");
    List<Double> pairs = cost.pairCosts();
    out.printf(
        "  per pair: %s; median %.1f%%, spread %.1f points (the noise between rounds on this"
            + " machine)%n",
        String.join(", ", pairs.stream().map(c -> String.format("%.1f%%", c * 100)).toList()),
        cost.medianPairCost() * 100,
        (pairs.stream().mapToDouble(c -> c).max().orElse(0)
                - pairs.stream().mapToDouble(c -> c).min().orElse(0))
            * 100);
    cost.cpuSecondsPer100k(true)
        .flatMap(on -> cost.cpuSecondsPer100k(false).map(off -> on / off - 1))
        .ifPresent(
            extra ->
                out.printf(
                    "CPU per change with metrics on: %+.1f%% of metrics off%n", extra * 100));
    out.println(
        "(rates: all rounds' changes / their time from the slot's activation to the marker in"
            + " Redis, as W1; CPU: the daemon's utime + stime from /proc/<pid>/stat over the same"
            + " time, all threads; a failed scrape shows as +N!)");
    if (rounds.stream().anyMatch(MetricsCost.Round::streamRetried)) {
      out.println(
          "(x) Debezium's first attempt to stream failed (the replication slot still held by the"
              + " daemon's own earlier connection) and it waited slot.retry.delay.ms (10 s) to"
              + " retry: the round measures that wait, so it counts in no figure");
    }
  }

  private static String cpu(Optional<Double> seconds) {
    return seconds.map(s -> String.format("%.2f", s)).orElse("?");
  }
}
