package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class RedisBenchmarkTest {

  @Test
  void parseRate_quietOutputWithProgress_readsTheLastRate() {
    String output =
        "EVALSHA abc: rps=120000.0 (overall: 118000.0) avg_msec=1.2\r"
            + "EVALSHA abc: 149253.73 requests per second, p50=0.223 msec\n";

    assertThat(RedisBenchmark.parseRate(output)).isEqualTo(149253.73);
  }

  @Test
  void parseRate_errorReply_fails() {
    assertThatThrownBy(() -> RedisBenchmark.parseRate("(error) ERR unknown command"))
        .hasMessageContaining("printed no rate");
  }

  @Test
  void command_severalRowsPerCall_pairsKeysAndCountsFields() {
    List<String> command =
        RedisBenchmark.Layout.ROWS_PER_CALL.command(
            "sha", List.of(), List.of("id", "1", "name", "x"));

    assertThat(command.subList(0, 5))
        .containsExactly("EVALSHA", "sha", "128", "bench:__rand_int__", "bench:__rand_int__");
    assertThat(command.subList(3 + 128, 3 + 128 + 8))
        .containsExactly("00000000000000000000000000000001", "0", "0", "2", "id", "1", "name", "x");
    assertThat(command).hasSize(3 + 128 + 64 * 8);
  }

  @Test
  void command_unchangedColumn_listedBeforeTheFields() {
    List<String> command =
        RedisBenchmark.Layout.ROWS_PER_CALL.command("sha", List.of("doc"), List.of("id", "1"));

    assertThat(command.subList(3 + 128, 3 + 128 + 7))
        .containsExactly("00000000000000000000000000000001", "0", "1", "1", "doc", "id", "1");
    assertThat(command).hasSize(3 + 128 + 64 * 7);
  }

  @Test
  void ceilings_mixAndLoad_combineTheTimesPerRow() {
    RedisBenchmark.Ceilings ceilings = new RedisBenchmark.Ceilings(100, 50, 300, 200, 200);

    assertThat(ceilings.mix(1, 1)).isEqualTo(150.0);
    assertThat(ceilings.load()).isEqualTo(100.0);
  }

  @Test
  void command_oneRowPerCall_isTheSingleKeyLayout() {
    assertThat(RedisBenchmark.Layout.ONE_ROW_PER_CALL.command("sha", List.of(), List.of("id", "1")))
        .containsExactly(
            "EVALSHA",
            "sha",
            "1",
            "bench:__rand_int__",
            "00000000000000000000000000000001",
            "0",
            "0",
            "id",
            "1");
  }

  @Test
  void wideFields_aboutAKilobyteAndAHalfInNineteenColumns() {
    List<String> fields = RedisBenchmark.wideFields();

    assertThat(fields).hasSize(2 * 19);
    assertThat(fields.stream().mapToInt(String::length).sum()).isBetween(1_000, 2_000);
  }
}
