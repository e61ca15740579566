package io.cachesync.preflight;

import java.util.List;

/** Every finding of one preflight, in the order checked. */
public record PreflightReport(List<Finding> findings) {

  public PreflightReport {
    findings = List.copyOf(findings);
  }

  public boolean passed() {
    return findings.stream().noneMatch(Finding::failed);
  }

  public List<Finding> failures() {
    return findings.stream().filter(Finding::failed).toList();
  }
}
