package io.cachesync.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Each form Debezium 3.6 gives the placeholder in, and the real values next to them. */
class ToastPlaceholderTest {
  private static final byte[] BYTES = ToastPlaceholder.TEXT.getBytes(StandardCharsets.UTF_8);

  private static List<Object> bytesAs(boolean longs) {
    List<Object> values = new ArrayList<>();
    for (byte b : BYTES) {
      values.add(longs ? (Object) (long) b : (Object) (int) b);
    }
    return values;
  }

  @Test
  void isText_placeholder_isRecognised() {
    assertThat(ToastPlaceholder.isText(ToastPlaceholder.TEXT)).isTrue();
    assertThat(ToastPlaceholder.isText("__cachesync_unchanged_toast")).isFalse();
    assertThat(ToastPlaceholder.isText("__debezium_unavailable_value")).isFalse();
  }

  @Test
  void isJson_hstoreFormOfThePlaceholder_isRecognised() {
    String escaped = "__cachesync_unchanged_toast\\u0000";
    assertThat(ToastPlaceholder.isJson("{\"" + escaped + "\":\"" + escaped + "\"}")).isTrue();
    assertThat(ToastPlaceholder.isJson("{\"a\":\"" + escaped + "\"}")).isFalse();
  }

  @Test
  void isBytes_placeholderBytes_isRecognisedAsArrayOrBuffer() {
    assertThat(ToastPlaceholder.isBytes(BYTES.clone())).isTrue();
    assertThat(ToastPlaceholder.isBytes(ByteBuffer.wrap(BYTES))).isTrue();
    assertThat(ToastPlaceholder.isBytes(new byte[] {95, 95})).isFalse();
  }

  @Test
  void isList_eachListForm_isRecognised() {
    assertThat(ToastPlaceholder.isList(List.of(ToastPlaceholder.TEXT))).as("text[]").isTrue();
    assertThat(ToastPlaceholder.isList(List.of((Object) BYTES.clone()))).as("bytea[]").isTrue();
    assertThat(ToastPlaceholder.isList(bytesAs(false))).as("int[], date[]").isTrue();
    assertThat(ToastPlaceholder.isList(bytesAs(true))).as("bigint[]").isTrue();
    assertThat(ToastPlaceholder.isList(List.of(UUID.nameUUIDFromBytes(BYTES).toString())))
        .as("uuid[]")
        .isTrue();
  }

  @Test
  void isList_realArrays_areNotTakenForIt() {
    List<Object> oneOff = bytesAs(false);
    oneOff.set(oneOff.size() - 1, 1);
    assertThat(ToastPlaceholder.isList(oneOff)).isFalse();
    assertThat(ToastPlaceholder.isList(bytesAs(false).subList(0, BYTES.length - 1))).isFalse();
    assertThat(ToastPlaceholder.isList(List.of("__cachesync_unchanged_toast"))).isFalse();
    assertThat(ToastPlaceholder.isList(List.of())).isFalse();
    assertThat(ToastPlaceholder.isList(List.of(1.5))).isFalse();
  }
}
