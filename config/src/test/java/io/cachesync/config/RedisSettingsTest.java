package io.cachesync.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RedisSettingsTest {

  @Test
  void redact_passwordOnly_hidesIt() {
    assertThat(RedisSettings.redact("redis://s3cret@host:6379"))
        .isEqualTo("redis://****@host:6379");
  }

  @Test
  void redact_userAndPassword_keepsTheUser() {
    assertThat(RedisSettings.redact("rediss://app:s3cret@host:6379/0"))
        .isEqualTo("rediss://app:****@host:6379/0");
  }

  @Test
  void redact_noUserInfo_isUnchanged() {
    assertThat(RedisSettings.redact("redis://host:6379")).isEqualTo("redis://host:6379");
  }

  @Test
  void new_sentinelUriWithMaster_isAccepted() {
    assertThat(new RedisSettings("redis-sentinel://h1:26379,h2:26379#mymaster").uri())
        .isEqualTo("redis-sentinel://h1:26379,h2:26379#mymaster");
  }

  @Test
  void new_tlsSentinelUriWithMaster_isAcceptedAndUsesTls() {
    RedisSettings settings = new RedisSettings("rediss-sentinel://h1:26379,h2:26379#mymaster");

    assertThat(settings.usesTls()).isTrue();
    assertThat(new RedisSettings("redis-sentinel://h1:26379#mymaster").usesTls()).isFalse();
    assertThat(new RedisSettings("redis://h1:6379").usesTls()).isFalse();
    assertThat(new RedisSettings("rediss://h1:6379").usesTls()).isTrue();
  }

  @Test
  void new_tlsSentinelUriWithoutMaster_isRejected() {
    assertThatThrownBy(() -> new RedisSettings("rediss-sentinel://h1:26379"))
        .hasMessage(
            "'rediss-sentinel://h1:26379' does not name the Sentinel master after '#' (e.g."
                + " rediss-sentinel://127.0.0.1:26379#mymaster)");
  }

  @Test
  void new_tlsSettingsWithPlainUri_isRejectedWithoutThePassword() {
    RedisTlsSettings tls =
        new RedisTlsSettings(
            Optional.of(Path.of("ca.crt")),
            Optional.empty(),
            Optional.empty(),
            RedisTlsSettings.Verify.FULL);

    assertThatThrownBy(() -> new RedisSettings("redis://:s3cret@h1:6379", 0, tls))
        .hasMessage(
            "TLS settings need a TLS URI: redis.uri 'redis://:****@h1:6379' does not use TLS;"
                + " write rediss://:****@h1:6379 to connect with these settings, or remove"
                + " redis.tls");
  }

  @Test
  void new_verifyPeerInTheQuery_isRejectedWithoutThePassword() {
    assertThatThrownBy(() -> new RedisSettings("rediss://:s3?cret@h1:6379/0?VerifyPeer=CA"))
        .hasMessageStartingWith("'rediss://:****@h1:6379/0?VerifyPeer=CA' sets verifyPeer;");
    assertThat(new RedisSettings("rediss://:verifyPeer=x@h1:6379").uri())
        .isEqualTo("rediss://:verifyPeer=x@h1:6379");
  }

  @Test
  void newTls_certificateWithoutKey_isRejected() {
    assertThatThrownBy(
            () ->
                new RedisTlsSettings(
                    Optional.empty(),
                    Optional.of(Path.of("client.crt")),
                    Optional.empty(),
                    RedisTlsSettings.Verify.FULL))
        .hasMessage("a client certificate needs both certFile and keyFile; keyFile is missing");
  }

  @Test
  void new_uriWithoutHost_isRejected() {
    assertThatThrownBy(() -> new RedisSettings("redis://:s3cret@/0"))
        .hasMessage("'redis://:****@/0' names no host (e.g. redis://127.0.0.1:6379)");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "redis://app:Zq@Kp:Vw/u#x@127.0.0.1:6379/0",
        "redis://app:Zq%40Kp%3AVw%2Fu@127.0.0.1:6379",
        "rediss://:Zq@Kp?Vw@host:6380/2?timeout=5s",
        "redis-sentinel://:Zq@Kp/Vw#u@h1:26379,h2:26379/0#mymaster",
        "redis:/app:Zq@Kp@host",
        "Zq@Kp:Vw@host"
      })
  void redact_passwordHoldingUriDelimiters_showsNoPartOfIt(String uri) {
    String redacted = RedisSettings.redact(uri);

    assertThat(redacted).doesNotContain("Zq").doesNotContain("Kp").doesNotContain("Vw");
    assertThat(redacted).contains("****@");
  }

  @Test
  void redact_passwordHoldingAt_keepsUserAndHost() {
    assertThat(RedisSettings.redact("redis://app:Zq@Kp:Vw/u#x@127.0.0.1:6379/0"))
        .isEqualTo("redis://app:****@127.0.0.1:6379/0");
  }

  @Test
  void new_rawAtInPassword_isRejectedWithoutShowingIt() {
    assertThatThrownBy(() -> new RedisSettings("redis://:Zq@Kp@127.0.0.1:6379"))
        .hasMessageNotContaining("Zq")
        .hasMessageNotContaining("Kp")
        .hasMessageContaining("@ as %40");
  }

  @Test
  void clusterSeeds_eachNodeAsAUriOfItsOwn_withTheUserInfoAndQuery() {
    RedisSettings settings =
        new RedisSettings("rediss-cluster://app:s3cret@h1:7000,h2,[::1]:7002/0?timeout=5s");

    assertThat(settings.cluster()).isTrue();
    assertThat(settings.usesTls()).isTrue();
    assertThat(settings.clusterSeeds())
        .containsExactly(
            "rediss://app:s3cret@h1:7000?timeout=5s",
            "rediss://app:s3cret@h2:6379?timeout=5s",
            "rediss://app:s3cret@[::1]:7002?timeout=5s");
    assertThat(new RedisSettings("redis-cluster://h1:7000").clusterSeeds())
        .containsExactly("redis://h1:7000");
    assertThat(new RedisSettings("redis://h1:7000").cluster()).isFalse();
    assertThat(settings.toString()).doesNotContain("s3cret");
    assertThat(settings.describeTransport()).startsWith("TLS to every node of the cluster, ");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "redis-cluster://:s3cret@h1:7000/1|selects database 1; a Redis Cluster has database 0"
            + " only: remove '/1'",
        "redis-cluster://:s3cret@h1:7000,,h2:7001|has an empty node in its list",
        "redis-cluster://:s3cret@h1:7000,h2:port|names node 'h2:port', which is not host:port",
        "redis-cluster://:s3cret@h1:70000|names node 'h1:70000', which is not host:port"
      })
  void new_badClusterUri_saysWhatIsWrongWithoutThePassword(String uriAndProblem) {
    String uri = uriAndProblem.substring(0, uriAndProblem.indexOf('|'));
    String problem = uriAndProblem.substring(uriAndProblem.indexOf('|') + 1);

    assertThatThrownBy(() -> new RedisSettings(uri))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(problem)
        .hasMessageNotContaining("s3cret");
  }

  @Test
  void new_tlsSettingsWithPlainClusterUri_namesTheTlsClusterScheme() {
    assertThat(RedisSettings.tlsWithoutTlsUri("redis-cluster://h1:7000,h2:7001"))
        .isEqualTo(
            "redis.uri 'redis-cluster://h1:7000,h2:7001' does not use TLS; write"
                + " rediss-cluster://h1:7000,h2:7001 to connect with these settings, or remove"
                + " redis.tls");
  }
}
