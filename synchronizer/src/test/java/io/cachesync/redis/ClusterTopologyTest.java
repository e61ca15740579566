package io.cachesync.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.cachesync.redis.ClusterTopology.Master;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A master read from its own line of {@code CLUSTER NODES}, and which masters a walk scans again
 * when two readings differ.
 */
class ClusterTopologyTest {
  private static final String NODES =
      "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,cache-4 slave"
          + " e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n"
          + "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,cache-1 myself,master"
          + " - 0 0 1 connected 0-5460 5462 [5461-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n"
          + "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30002@31002 master -"
          + " 0 1426238316232 2 connected 5461 5463-10922\n";

  @Test
  void myself_isTheReportingNodesLine_withItsSlotsAndOpenSlotsApart() {
    Master master = ClusterTopology.master(ClusterTopology.myself(NODES).orElseThrow());

    assertThat(master.id()).isEqualTo("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
    assertThat(master.address()).isEqualTo("127.0.0.1:30001");
    assertThat(master.epoch()).isEqualTo(1);
    assertThat(master.slots()).containsExactly("0-5460", "5462");
    assertThat(master.slotCount()).isEqualTo(5_462);
    assertThat(master.openSlots())
        .containsExactly("[5461-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]");
  }

  @Test
  void myself_noLineSaysMyself_isEmpty() {
    assertThat(ClusterTopology.myself(NODES.replace("myself,", ""))).isEmpty();
  }

  @Test
  void uncoveredSlots_countsTheSlotsNoMasterServes() {
    ClusterTopology topology =
        new ClusterTopology(
            List.of(master("a", 1, "0-5460"), master("b", 1, "5461-10922")), List.of());

    assertThat(topology.uncoveredSlots()).isEqualTo(16_384 - 10_923);
  }

  @Test
  void rescanAfter_sameMastersSlotsAndEpochs_nothing() {
    ClusterTopology before = topology(master("a", 1, "0-8191"), master("b", 2, "8192-16383"));

    assertThat(before.rescanAfter(before, Set.of())).isEmpty();
  }

  @Test
  void rescanAfter_slotsMoved_theMastersWhoseSlotsChanged() {
    ClusterTopology before =
        topology(
            master("a", 1, "0-5000"), master("b", 2, "5001-10000"), master("c", 3, "10001-16383"));
    ClusterTopology after =
        topology(
            master("a", 4, "0-5100"), master("b", 2, "5101-10000"), master("c", 3, "10001-16383"));

    assertThat(after.rescanAfter(before, Set.of())).containsExactly("a", "b");
  }

  @Test
  void rescanAfter_aSlotWentAndCameBack_theMasterWhoseEpochChanged() {
    ClusterTopology before = topology(master("a", 1, "0-8191"), master("b", 2, "8192-16383"));
    ClusterTopology after = topology(master("a", 5, "0-8191"), master("b", 4, "8192-16383"));

    assertThat(after.rescanAfter(before, Set.of())).containsExactly("a", "b");
  }

  @Test
  void rescanAfter_aReplicaTookOver_theNewMaster() {
    ClusterTopology before = topology(master("a", 1, "0-8191"), master("b", 2, "8192-16383"));
    ClusterTopology after = topology(master("a", 1, "0-8191"), master("b2", 3, "8192-16383"));

    assertThat(after.rescanAfter(before, Set.of())).containsExactly("b2");
  }

  @Test
  void rescanAfter_aSlotInMigrationOrAScanThatFailed_thoseMasters() {
    Master moving = new Master("a", "127.0.0.1", 7000, 1, List.of("0-8191"), List.of("[5->-b]"));
    ClusterTopology before = topology(moving, master("b", 2, "8192-16383"));

    assertThat(before.rescanAfter(before, Set.of("b"))).containsExactly("a", "b");
    assertThat(before.migrating()).isTrue();
  }

  private static ClusterTopology topology(Master... masters) {
    return new ClusterTopology(List.of(masters), List.of());
  }

  private static Master master(String id, long epoch, String slots) {
    return new Master(
        id, "127.0.0.1", 7000 + id.hashCode() % 100, epoch, List.of(slots), List.of());
  }
}
