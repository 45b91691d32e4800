"""pyrunc's OCI runtime-spec v1.3.0 conformance suite (see conformance/run).

Modules:
  core      check registry, verdict exceptions, quote normalisation
  host      facts about the host (cgroup layout, kernel features) for skips
  env       the runtime under test, bundles, the in-container probe, cleanup
  checks_*  the checks, one module per spec area, in the order they run
  cli       options, progress, scoreboard, JSON
"""
