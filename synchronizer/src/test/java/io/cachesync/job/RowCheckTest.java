package io.cachesync.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.CacheOperation;
import io.cachesync.model.ColumnValue;
import io.cachesync.model.Mapping;
import io.cachesync.model.TableId;
import io.cachesync.model.ValueFormat;
import io.cachesync.model.Version;
import io.cachesync.redis.CachedValue;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The comparison of a json table's cached text with its row: the writer's exact text, with any
 * version, is consistent without parsing; any other text is compared member by member as JSON, so
 * that neither a form the writer does not produce is reported nor a difference is missed.
 */
class RowCheckTest {
  /** A version as the writer stores it. */
  private static final String V = "0000000000000100000000000000000f";

  private static final RowCheck CHECK = new RowCheck(null, new Mapping(List.of()));

  private final CacheOperation.Write write = write();

  @Test
  void theWritersText_withAnyVersion_isConsistent() {
    assertThat(
            compare(
                "{\"__v\":\""
                    + V
                    + "\",\"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null}"))
        .isEmpty();
    assertThat(
            compare(
                "{\"__v\":\"\",\"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null}"))
        .isEmpty();
  }

  @Test
  void theSameMembersInAnotherForm_areConsistent() {
    assertThat(
            compare(
                "{\"id\":7, \"gone\":null, \"tags\":[1,2], \"name\":\"Zoë \\\"q\\\"\", \"__v\":\"1\"}"))
        .isEmpty();
    assertThat(
            compare(
                "{\"__v\":\""
                    + V
                    + "\", \"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null}"))
        .isEmpty();
  }

  @Test
  void aDifferentMember_aMemberMoreOrLess_orNoJson_areReported() {
    assertThat(
            compare(
                "{\"__v\":\""
                    + V
                    + "\",\"id\":8,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null}"))
        .hasValueSatisfying(offender -> assertThat(offender.detail()).isEqualTo("fields id"));
    assertThat(
            compare(
                "{\"__v\":\""
                    + V
                    + "\",\"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null,\"x\":1}"))
        .hasValueSatisfying(offender -> assertThat(offender.detail()).isEqualTo("fields x"));
    assertThat(
            compare("{\"__v\":\"" + V + "\",\"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2]}"))
        .hasValueSatisfying(offender -> assertThat(offender.detail()).isEqualTo("fields gone"));
    assertThat(
            compare(
                "{\"__v\":\""
                    + V
                    + "\",\"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null"))
        .hasValueSatisfying(offender -> assertThat(offender.detail()).isEqualTo("not JSON"));
    assertThat(compare("{\"__v\":\"" + V))
        .hasValueSatisfying(offender -> assertThat(offender.detail()).isEqualTo("not JSON"));
  }

  @Test
  void aVersionNotOfTheWritersForm_isLeftToTheParser() {
    String members = ",\"id\":7,\"name\":\"Zoë \\\"q\\\"\",\"tags\":[1, 2],\"gone\":null}";
    // A backslash ending the version escapes its closing quote: the text is not JSON.
    for (String version :
        List.of(V.substring(1) + "\\", "\\", V.substring(2) + "\\x", "\n" + V.substring(1))) {
      assertThat(compare("{\"__v\":\"" + version + "\"" + members))
          .as(version)
          .hasValueSatisfying(offender -> assertThat(offender.detail()).isEqualTo("not JSON"));
    }
    assertThat(compare("{\"__v\":\"" + V + "\"" + members)).isEmpty();
  }

  private Optional<Verifier.Offender> compare(String text) {
    return CHECK.compare(write, new CachedValue("string", Map.of(), text));
  }

  private static CacheOperation.Write write() {
    Map<String, ColumnValue> values = new LinkedHashMap<>();
    values.put("id", new ColumnValue.Number("7"));
    values.put("name", new ColumnValue.Text("Zoë \"q\""));
    values.put("tags", new ColumnValue.Json("[1, 2]"));
    values.put("gone", ColumnValue.NULL);
    return new CacheOperation.Write(
        TableId.parse("public.docs"),
        "doc:7",
        ValueFormat.JSON,
        values,
        new Version(0x100, 0x10),
        Optional.empty());
  }
}
