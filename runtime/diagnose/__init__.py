"""`pyrunc check` and `pyrunc plan`: what a bundle would do and why it would
fail, found without running it.

    run_checks.py    the order of `check`, and what is skipped after an error
    findings.py      Finding and Report: severity, where, what, how to fix it
    config_checks.py the config on its own: JSON, every schema error, the rules
                     spec.py enforces at create, one finding each
    host_checks.py   what the config asks of this host: namespaces, cgroup
                     files (cgroups/preview.py), rlimits, seccomp names, devices,
                     id-mapped mounts (LSMs and capabilities: the dry plan's)
    rootfs_checks.py the rootfs: the program (PATH lookup, ELF machine, its
                     loader and libraries), users and groups, cwd, mount sources
    elf.py           the few ELF fields rootfs_checks reads
    risks.py         warnings for settings that are allowed but risky
    dry_plan.py      the plan create would build, from a PlanContext without fds
    describe.py      plan: each op of the plan the C init would run, in words

Nothing here creates a namespace, mount, cgroup, state directory or process:
the checks read the bundle, /proc and /sys, and the plan is built with the
same planner create uses, but from a PlanContext that holds no fds.
"""
