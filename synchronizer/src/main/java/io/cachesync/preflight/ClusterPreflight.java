package io.cachesync.preflight;

import static io.cachesync.preflight.RedisPreflight.SUBJECT;

import io.cachesync.ServerUnreachableException;
import io.cachesync.config.RedisSettings;
import io.cachesync.config.SynchronizerSettings;
import io.cachesync.model.TableMapping;
import io.cachesync.redis.ClusterAdmin;
import io.cachesync.redis.ClusterAdmin.Master;
import io.cachesync.redis.HashSlots;
import io.cachesync.redis.RedisAdmin;
import io.cachesync.redis.RedisRefusedException;
import io.cachesync.redis.RedisRights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Checks a Redis Cluster for what {@link RedisPreflight} checks on one Redis. First the cluster:
 * each master sees it ok, and every hash slot is served by a master, for a write to a key of a slot
 * nobody serves fails. Then each master on its own, since INFO, the configuration, ACL users and
 * the script cache are all kept per node: its version (7.0 or later, whose rules the cluster
 * writer's scripts rely on), that it is a master, its eviction policy, the user's rights and a
 * trial of the writer's scripts. A check that comes out the same on every master is told once,
 * naming them all; one that differs is told for each master it concerns. Last, a table whose key
 * template holds a literal hash tag is warned about: the cluster puts all its keys on one master.
 *
 * <p>Replicas are not checked: the cluster writer writes to masters only. They need the same ACL
 * user and eviction policy to take over at a failover, which {@code cachesync grants} says.
 */
final class ClusterPreflight {
  /** The wrapped row scripts touch keys they do not declare, which Redis 7.0 allows. */
  private static final int[] MINIMUM_VERSION = {7, 0};

  /** Where every ACL problem's fix points on a cluster: ACL users are per node. */
  static final String GRANTS_FIX = RedisPreflight.GRANTS_FIX + " on every node of the cluster";

  private final RedisSettings settings;
  private final RedisRights rights;
  private final String stateKeyPrefix;
  private final String scratchPrefix;
  private final List<TableMapping> tables;

  ClusterPreflight(SynchronizerSettings settings, RedisRights rights, List<TableMapping> tables) {
    this.settings = settings.redis();
    this.rights = rights;
    this.stateKeyPrefix = settings.stateKeyPrefix();
    // Beside the shard keys, whose pattern the user may write, but not one of them.
    this.scratchPrefix = settings.shardKeyPrefix() + "preflight:";
    this.tables = List.copyOf(tables);
  }

  /**
   * What one master answered.
   *
   * @param unreachable why it could not be checked at all, if it could not
   * @param clusterInfo its CLUSTER INFO; empty when it could not be read
   * @param view the cluster as it sees it; empty when that could not be read
   * @param findings its own checks, without its name
   */
  private record MasterReport(
      Master master,
      Optional<String> unreachable,
      Map<String, String> clusterInfo,
      Optional<ClusterAdmin.View> view,
      List<Finding> findings) {

    static MasterReport unreachable(Master master, String why, Finding finding) {
      return new MasterReport(
          master, Optional.of(why), Map.of(), Optional.empty(), List.of(finding));
    }

    /** The slots it serves: by its own account, else the topology's when it answered at all. */
    HashSlots served() {
      return unreachable.isPresent()
          ? HashSlots.none()
          : view.map(ClusterAdmin.View::ownSlots).orElse(master.slots());
    }
  }

  List<Finding> run() throws ServerUnreachableException {
    List<Finding> findings = new ArrayList<>();
    try (ClusterAdmin cluster = ClusterAdmin.connect(settings)) {
      if (settings.usesTls()) {
        findings.add(Finding.ok(SUBJECT, "connected with " + settings.describeTransport()));
      }
      List<MasterReport> reports = new ArrayList<>();
      for (Master master : cluster.masters()) {
        reports.add(check(cluster, master));
      }
      findings.addAll(topology(reports));
      findings.addAll(merged(reports));
    } catch (RedisRefusedException e) {
      // The message names what to check: the user and password, the TLS settings, or the right
      // to read the topology.
      findings.add(Finding.failed(SUBJECT, e.getMessage()));
    }
    findings.addAll(literalHashTags());
    return findings;
  }

  private MasterReport check(ClusterAdmin cluster, Master master) {
    if (master.failing()) {
      return MasterReport.unreachable(
          master,
          "which the cluster flags failed",
          Finding.failed(
              SUBJECT,
              "not checked: the cluster flags it failed (and no replica took over its slots);"
                  + " start it again, or promote a replica (CLUSTER FAILOVER FORCE on it)"));
    }
    try (RedisAdmin node = cluster.master(master, scratchPrefix)) {
      Map<String, String> clusterInfo = node.clusterInfo();
      return new MasterReport(
          master, Optional.empty(), clusterInfo, node.clusterView(), checks(node, clusterInfo));
    } catch (ServerUnreachableException e) {
      return MasterReport.unreachable(
          master,
          "which could not be reached",
          Finding.failed(SUBJECT, "not checked: " + e.getMessage()));
    } catch (RedisRefusedException e) {
      return MasterReport.unreachable(
          master, "which refused the login", Finding.failed(SUBJECT, e.getMessage()));
    }
  }

  /** What {@link RedisPreflight} checks on one Redis, on this master. */
  private List<Finding> checks(RedisAdmin node, Map<String, String> clusterInfo) {
    List<Finding> findings = new ArrayList<>();
    // Without INFO (an ACL refusing it, named below) the version and role cannot be read.
    String version = node.info("server").get("redis_version");
    String role = node.info("replication").get("role");
    boolean recent = version == null || RedisPreflight.atLeast(version, MINIMUM_VERSION);
    boolean master = role == null || role.equals("master");
    if (!recent) {
      findings.add(
          Finding.failed(
              SUBJECT,
              "Redis "
                  + version
                  + " is too old; on a Redis Cluster cachesync needs Redis 7.0 or later on every"
                  + " master (its scripts write keys of slots they do not declare, which 7.0"
                  + " allows): upgrade it"));
    } else if (!master) {
      findings.add(
          Finding.failed(
              SUBJECT,
              "this node is a "
                  + role
                  + ", not a master, though the cluster's topology names it one (a failover under"
                  + " way?); run the check again once the cluster is stable"));
    } else if (version != null && role != null) {
      findings.add(Finding.ok(SUBJECT, "Redis " + version + ", a master"));
    }
    findings.add(RedisPreflight.evictionPolicy(RedisPreflight.maxmemoryPolicy(node)));
    if (recent && master) {
      List<Finding> acl =
          RedisPreflight.acl(rights, node.lacking(rights, stateKeyPrefix), GRANTS_FIX);
      findings.addAll(acl);
      if (acl.stream().anyMatch(Finding::failed)) {
        findings.add(
            Finding.warning(
                SUBJECT,
                "the writer's Lua scripts were not tried: the user lacks rights they need"
                    + " (above)"));
      } else if (!clusterInfo.getOrDefault("cluster_state", "ok").equals("ok")) {
        findings.add(
            Finding.warning(
                SUBJECT,
                "the writer's Lua scripts were not tried: this master does not see the cluster"
                    + " ok, and refuses commands on keys until it does (above)"));
      } else {
        findings.addAll(RedisPreflight.scripts(node.scriptProblems(stateKeyPrefix)));
      }
    }
    return findings;
  }

  /** Whether each master sees the cluster ok, and whether every slot is served. */
  private List<Finding> topology(List<MasterReport> reports) {
    List<Finding> findings = new ArrayList<>();
    if (reports.isEmpty()) {
      findings.add(
          Finding.failed(
              SUBJECT,
              "the Redis Cluster at "
                  + settings.redactedUri()
                  + " has no master that serves hash slots; assign the slots (redis-cli --cluster"
                  + " create, or CLUSTER ADDSLOTS on each master)"));
      return findings;
    }
    for (MasterReport report : reports) {
      String state = report.clusterInfo().get("cluster_state");
      if (state != null && !state.equals("ok")) {
        findings.add(Finding.failed(SUBJECT, clusterStateProblem(report, state)));
      }
    }
    HashSlots served = HashSlots.none();
    for (MasterReport report : reports) {
      served = served.plus(report.served());
    }
    HashSlots unserved = HashSlots.all().minus(served);
    if (!unserved.isEmpty()) {
      findings.add(Finding.failed(SUBJECT, unservedProblem(reports, unserved)));
    }
    if (findings.isEmpty()) {
      boolean everyState =
          reports.stream().allMatch(r -> r.clusterInfo().containsKey("cluster_state"));
      findings.add(
          Finding.ok(
              SUBJECT,
              "the Redis Cluster at "
                  + settings.redactedUri()
                  + " serves every one of its "
                  + HashSlots.COUNT
                  + " hash slots from "
                  + reports.size()
                  + " masters"
                  + (everyState ? ", and each sees cluster_state:ok" : "")));
    }
    return findings;
  }

  private static String clusterStateProblem(MasterReport report, String state) {
    Map<String, String> info = report.clusterInfo();
    String counts =
        List.of(
                "cluster_slots_assigned",
                "cluster_slots_ok",
                "cluster_slots_pfail",
                "cluster_slots_fail")
            .stream()
            .filter(info::containsKey)
            .map(field -> field + ":" + info.get(field))
            .collect(Collectors.joining(" "));
    return "master "
        + report.master().address()
        + " sees cluster_state:"
        + state
        + (counts.isEmpty() ? "" : " (" + counts + ")")
        + ", and refuses commands on keys while it does; serve every slot from a running master"
        + " (see the slots below, if any), or read CLUSTER INFO and the log of that node";
  }

  /**
   * Which slots nobody serves, and why, by the master they are assigned to in any view of the
   * cluster (the client's, or a master's own): views differ while news goes round by gossip, and a
   * master that stopped serving a slot itself may still be its owner in all the others'.
   */
  private static String unservedProblem(List<MasterReport> reports, HashSlots unserved) {
    Map<String, HashSlots> assigned = new LinkedHashMap<>();
    Map<String, MasterReport> byAddress = new LinkedHashMap<>();
    for (MasterReport report : reports) {
      String address = report.master().address();
      byAddress.put(address, report);
      assigned.merge(address, report.master().slots(), HashSlots::plus);
    }
    for (MasterReport report : reports) {
      report
          .view()
          .ifPresent(
              view ->
                  view.mastersSlots()
                      .forEach(
                          (address, slots) -> assigned.merge(address, slots, HashSlots::plus)));
    }
    List<String> parts = new ArrayList<>();
    HashSlots explained = HashSlots.none();
    for (Map.Entry<String, HashSlots> owner : assigned.entrySet()) {
      HashSlots theirs = owner.getValue().intersection(unserved).minus(explained);
      if (theirs.isEmpty()) {
        continue;
      }
      explained = explained.plus(theirs);
      String master = owner.getKey();
      MasterReport report = byAddress.get(master);
      parts.add(
          slots(theirs)
              + " assigned to "
              + master
              + " in the cluster's topology, "
              + (report == null
                  ? "which the cluster client does not know as a master"
                  : report
                      .unreachable()
                      .orElse("but " + master + " does not serve them by its own CLUSTER NODES")));
    }
    HashSlots nobody = unserved.minus(explained);
    if (!nobody.isEmpty()) {
      parts.add(slots(nobody) + " assigned to no master");
    }
    int count = unserved.count();
    return (count == 1
            ? "1 of the "
                + HashSlots.COUNT
                + " hash slots is served by no master, so writes of keys"
                + " in it fail: "
            : count
                + " of the "
                + HashSlots.COUNT
                + " hash slots are served by no master, so writes of keys in them fail: ")
        + String.join("; ", parts)
        + "; assign every slot to a running master (CLUSTER ADDSLOTS on the master that should"
        + " serve it, or redis-cli --cluster fix)";
  }

  /** {@code slot 5} or {@code slots 0-5460, 6000}. */
  private static String slots(HashSlots slots) {
    return (slots.count() == 1 ? "slot " : "slots ") + slots;
  }

  /**
   * The masters' findings, each told once with the masters it came from: "every master (...)" when
   * all of them, else the ones it concerns.
   */
  private static List<Finding> merged(List<MasterReport> reports) {
    Map<Finding, List<String>> masters = new LinkedHashMap<>();
    for (MasterReport report : reports) {
      for (Finding finding : report.findings()) {
        masters.computeIfAbsent(finding, f -> new ArrayList<>()).add(report.master().address());
      }
    }
    List<Finding> findings = new ArrayList<>();
    masters.forEach(
        (finding, addresses) -> {
          String which =
              addresses.size() == 1
                  ? "master " + addresses.get(0)
                  : (addresses.size() == reports.size() ? "every master (" : "masters (")
                      + String.join(", ", addresses)
                      + ")";
          findings.add(
              new Finding(finding.status(), finding.subject(), which + ": " + finding.message()));
        });
    return findings;
  }

  /** A warning for each table whose keys a literal hash tag puts on one master. */
  private List<Finding> literalHashTags() {
    List<Finding> findings = new ArrayList<>();
    for (TableMapping table : tables) {
      LiteralHashTag.of(table.key())
          .ifPresent(
              tag ->
                  findings.add(
                      Finding.warning(
                          table.table().toString(),
                          "key '"
                              + table.key()
                              + "' renders the literal hash tag {"
                              + tag.tag()
                              + "}, so the Redis Cluster puts every key of the table"
                              + (tag.everyKey() ? "" : " (whose values before the tag hold no '{')")
                              + " in slot "
                              + HashSlots.slotOf("{" + tag.tag() + "}")
                              + ", on one master, which holds the whole table and takes all its"
                              + " writes; unless that is meant, drop the braces, or put them"
                              + " around a placeholder ('{{{id}}}') to spread the keys")));
    }
    return findings;
  }
}
