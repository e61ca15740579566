package io.cachesync.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.model.Version;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WriterLeaseTest {
  private final LeaseOnlyStore store = new LeaseOnlyStore();
  private long now = 1_000_000_000L;
  private final Set<String> gone = new HashSet<>();
  private final WriterLease lease = new WriterLease(store, "me", () -> now, gone::contains);
  private final List<String> lost = new ArrayList<>();

  @Test
  void acquire_anotherOwnerHoldsIt_isRefused() {
    store.holder = "other";

    assertThat(lease.acquire()).isFalse();
    assertThat(lease.holder()).hasValue("other");
  }

  @Test
  void acquire_holderKnownToBeGone_takesItOverAtOnce() {
    store.holder = "4242@here/pid:[1]/dead";
    gone.add("4242@here/pid:[1]/dead");

    assertThat(lease.acquire()).isTrue();
    assertThat(store.holder).isEqualTo("me");
  }

  @Test
  void deadOnThisHost_thisProcessOrAnotherHost_isNotGone() {
    String self = WriterLease.ownerId();

    assertThat(WriterLease.deadOnThisHost(self)).isFalse();
    assertThat(WriterLease.deadOnThisHost(self.replaceFirst("@[^/]*/", "@elsewhere/"))).isFalse();
    assertThat(WriterLease.deadOnThisHost("no-pid-here")).isFalse();
  }

  @Test
  void deadOnThisHost_processOfThisHostThatExited_isGone() throws Exception {
    Process exited = new ProcessBuilder("true").start();
    exited.waitFor();
    String self = WriterLease.ownerId();

    assertThat(WriterLease.deadOnThisHost(exited.pid() + self.substring(self.indexOf('@'))))
        .isTrue();
  }

  @Test
  void deadOnThisHost_samePidNamespaceInodeOnAnotherMachine_isNotGone() throws Exception {
    // The initial PID namespace has the same inode on every kernel, and hosts share names: a
    // holder named by host and namespace alone may be a live daemon on another machine.
    Process exited = new ProcessBuilder("true").start();
    exited.waitFor();
    String self = WriterLease.ownerId();
    String[] parts = self.split("/");
    String hostAndNamespace = exited.pid() + parts[0].substring(parts[0].indexOf('@'));

    assertThat(WriterLease.deadOnThisHost(hostAndNamespace + "/" + parts[1] + "/fromhost2"))
        .as("no boot id: cannot tell, waits for the lease to expire")
        .isFalse();
    assertThat(
            WriterLease.deadOnThisHost(
                exited.pid()
                    + parts[0].substring(parts[0].indexOf('@'))
                    + "/"
                    + parts[1]
                    + "/00000000-0000-0000-0000-000000000000/"
                    + parts[3]
                    + "/"
                    + parts[4]))
        .as("another machine's boot id")
        .isFalse();
  }

  @Test
  void deadOnThisHost_pidReusedByAProcessStartedLater_isGone() {
    String self = WriterLease.ownerId();
    String[] parts = self.split("/");
    assertThat(parts[3]).as("this process's start time").isNotEqualTo("?");
    String earlierProcess =
        parts[0] + "/" + parts[1] + "/" + parts[2] + "/" + (Long.parseLong(parts[3]) - 1) + "/x";

    assertThat(WriterLease.deadOnThisHost(earlierProcess)).isTrue();
    assertThat(WriterLease.deadOnThisHost(parts[0] + "/" + parts[1] + "/" + parts[2] + "/?/x"))
        .as("start time unknown: waits")
        .isFalse();
  }

  @Test
  void renew_anotherOwnerTookTheLease_losesTheRoleOnce() {
    assertThat(lease.acquire()).isTrue();
    store.holder = "other";

    lease.renew(lost::add, () -> true);
    lease.renew(lost::add, () -> true);

    assertThat(lost)
        .singleElement()
        .asString()
        .contains("another daemon holds the writer's role now (other)");
  }

  @Test
  void renew_redisUnreachableUntilTheLeaseMayExpireAndNothingElseFences_losesTheRole() {
    lease.acquire();
    store.reachable = false;

    now += WriterLease.TTL.minus(WriterLease.RENEW_EVERY).minusMillis(1).toNanos();
    lease.renew(lost::add, () -> false);
    assertThat(lost).as("still within the lease").isEmpty();

    now += Duration.ofMillis(1).toNanos();
    lease.renew(lost::add, () -> false);
    assertThat(lost)
        .singleElement()
        .asString()
        .startsWith("could not renew the writer's lease for 8 s");
  }

  @Test
  void renew_redisUnreachableWhileTheSlotFences_keepsTheRoleAndRenewsWhenBack() {
    lease.acquire();
    store.reachable = false;
    now += WriterLease.TTL.multipliedBy(3).toNanos();

    lease.renew(lost::add, () -> true);
    store.reachable = true;
    store.holder = null; // expired meanwhile
    lease.renew(lost::add, () -> true);

    assertThat(lost).isEmpty();
    assertThat(store.holder).isEqualTo("me");
  }

  @Test
  void close_held_releasesSoThatAStandbyTakesOverAtOnce() {
    lease.acquire();

    lease.close();

    assertThat(store.holder).isNull();
  }

  @Test
  void close_afterTheRoleWasLost_leavesTheNewHoldersLease() {
    lease.acquire();
    store.holder = "other";
    lease.renew(lost::add, () -> true);

    lease.close();

    assertThat(store.holder).isEqualTo("other");
  }

  /** The lease half of a state store, in memory; every other method is unused here. */
  private static final class LeaseOnlyStore implements StateStore {
    String holder;
    boolean reachable = true;

    private void reach() {
      if (!reachable) {
        throw new IllegalStateException("Redis unreachable");
      }
    }

    @Override
    public boolean holdWriter(String owner, Duration ttl) {
      reach();
      if (holder != null && !holder.equals(owner)) {
        return false;
      }
      holder = owner;
      return true;
    }

    @Override
    public boolean takeOverWriter(String deadOwner, String owner, Duration ttl) {
      reach();
      if (holder != null && !holder.equals(owner) && !holder.equals(deadOwner)) {
        return false;
      }
      holder = owner;
      return true;
    }

    @Override
    public Optional<String> writer() {
      reach();
      return Optional.ofNullable(holder);
    }

    @Override
    public void releaseWriter(String owner) {
      reach();
      if (owner.equals(holder)) {
        holder = null;
      }
    }

    @Override
    public Map<String, String> offsets() {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<String> epoch() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void adoptEpoch(String epoch) {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean saveOffsets(String epoch, Version acknowledged, Map<String, String> offsets) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Set<String> loadedTables() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void markLoaded(Set<String> tables) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void submitResync(String id, Set<String> tables, String slots) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void returnResync(String id) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<Map.Entry<String, Set<String>>> takeResync(String owner) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long requeueTakenResyncs() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void finishResync(String id, Map<String, Long> rowsLoaded) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void resyncStatus(String id, String status, Map<String, Long> rowsLoaded) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Map<String, String> resync(String id) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<Version> position() {
      throw new UnsupportedOperationException();
    }

    @Override
    public Optional<Long> applied() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void reset(String epoch, boolean sweep) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void forgetOffsets() {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean sweepNeeded() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void sweepDone() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }
}
