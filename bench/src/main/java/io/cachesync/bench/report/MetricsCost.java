package io.cachesync.bench.report;

import io.cachesync.bench.measure.Drain;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The W1 catch-up with metrics on (the endpoint enabled and scraped) against metrics off ({@code
 * http: off}), in interleaved rounds of the same run.
 *
 * @param rounds in the order they ran
 */
public record MetricsCost(List<Round> rounds) {
  /** The cost the issue allows: at most 3% of the catch-up rate. */
  public static final double TARGET = 0.03;

  /**
   * One catch-up.
   *
   * @param drain the backlog's changes and the time from the slot's activation to its marker
   * @param cpu the daemon's CPU time (all threads, user and system) over the same time; empty when
   *     it could not be read
   * @param scrapes the scrapes of its endpoint answered during the round (0 with metrics off)
   * @param failedScrapes the scrapes that failed or did not answer 200
   * @param streamRetried whether Debezium's first attempt to stream from the slot failed and was
   *     retried after its delay (10 s): the round then measures that wait, not the catch-up, and
   *     counts in none of the figures
   */
  public record Round(
      boolean metricsOn,
      Drain drain,
      Optional<Duration> cpu,
      long scrapes,
      long failedScrapes,
      boolean streamRetried) {}

  public MetricsCost {
    rounds = List.copyOf(rounds);
  }

  /**
   * The catch-up rate of the rounds with metrics on (or off) that count: their changes over their
   * time.
   */
  public double rate(boolean metricsOn) {
    long changes = 0;
    long nanos = 0;
    for (Round round : of(metricsOn)) {
      changes += round.drain().changes();
      nanos += round.drain().took().toNanos();
    }
    return nanos == 0 ? Double.NaN : changes / (nanos / 1e9);
  }

  /** 1 - rate(on) / rate(off): the share of the catch-up rate metrics cost. */
  public double cost() {
    return 1 - rate(true) / rate(false);
  }

  /**
   * The cost within each pair of neighbouring rounds (rounds 1 and 2, 3 and 4, ...) that both
   * count, in order: how much the noise between rounds moves the figure.
   */
  public List<Double> pairCosts() {
    List<Double> costs = new ArrayList<>();
    for (int i = 0; i + 1 < rounds.size(); i += 2) {
      Round first = rounds.get(i);
      Round second = rounds.get(i + 1);
      if (first.metricsOn() != second.metricsOn()
          && !first.streamRetried()
          && !second.streamRetried()) {
        Round on = first.metricsOn() ? first : second;
        Round off = first.metricsOn() ? second : first;
        costs.add(1 - on.drain().rate() / off.drain().rate());
      }
    }
    return costs;
  }

  /** The median of {@link #pairCosts()}: the figure one unlucky round moves least. */
  public double medianPairCost() {
    List<Double> sorted = pairCosts().stream().sorted().toList();
    if (sorted.isEmpty()) {
      return Double.NaN;
    }
    int middle = sorted.size() / 2;
    return sorted.size() % 2 == 1
        ? sorted.get(middle)
        : (sorted.get(middle - 1) + sorted.get(middle)) / 2;
  }

  /** The daemon's CPU seconds per 100,000 changes with metrics on (or off); empty if unknown. */
  public Optional<Double> cpuSecondsPer100k(boolean metricsOn) {
    long changes = 0;
    long nanos = 0;
    for (Round round : of(metricsOn)) {
      if (round.cpu().isEmpty()) {
        return Optional.empty();
      }
      changes += round.drain().changes();
      nanos += round.cpu().get().toNanos();
    }
    return changes == 0 ? Optional.empty() : Optional.of(nanos / 1e9 / changes * 100_000);
  }

  public boolean met() {
    return cost() <= TARGET;
  }

  /** The rounds of one setting that count (their stream started at the first attempt). */
  private List<Round> of(boolean metricsOn) {
    return rounds.stream()
        .filter(round -> round.metricsOn() == metricsOn && !round.streamRetried())
        .toList();
  }
}
