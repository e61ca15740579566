package io.cachesync.bench.measure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cachesync.redis.HashRowCall;
import java.nio.charset.StandardCharsets;
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
  void writeCall_packsTheRowsAsCachesyncDoes() {
    List<String> command =
        RedisBenchmark.writeCall("sha", List.of("doc"), List.of("id", "__rand_int__"));

    assertThat(command.subList(0, 5))
        .containsExactly("EVALSHA", "sha", "128", "bench:__rand_int__", "bench:__rand_int__");
    assertThat(command).hasSize(3 + 128 + 1);
    HashRowCall call = new HashRowCall();
    call.add(
        "k",
        "k",
        "00000000000000000000000000000001",
        "0",
        List.of("doc"),
        List.of("id", "__rand_int__"));
    String row = new String(call.packedValues(), StandardCharsets.ISO_8859_1);
    assertThat(command.get(3 + 128)).isEqualTo(row.repeat(HashRowCall.MAX_ROWS));
  }

  @Test
  void shellWord_bashPassesEveryByteOn() throws Exception {
    String bytes = "a b'\"$x\n\u00e9\u00ff_:.-9";

    Process echo =
        new ProcessBuilder(
                "bash", "-c", "printf %s " + RedisBenchmark.shellWord(bytes) + " | od -An -tu1")
            .start();
    String printed = new String(echo.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);

    assertThat(echo.waitFor()).isZero();
    assertThat(printed.trim().split("\\s+"))
        .containsExactly(bytes.chars().mapToObj(Integer::toString).toArray(String[]::new));
  }

  @Test
  void shellWord_nul_refused() {
    assertThatThrownBy(() -> RedisBenchmark.shellWord("a\u0000b"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ceilings_mix_combinesTheTimesPerRow() {
    RedisBenchmark.Ceilings ceilings = new RedisBenchmark.Ceilings(100, 50, 300, 200, 200);

    assertThat(ceilings.mix(1, 1)).isEqualTo(150.0);
  }

  @Test
  void wideFields_aboutAKilobyteAndAHalfInNineteenColumns() {
    List<String> fields = RedisBenchmark.wideFields();

    assertThat(fields).hasSize(2 * 19);
    assertThat(fields.stream().mapToInt(String::length).sum()).isBetween(1_000, 2_000);
  }
}
