"""Where the lifecycle runs its hooks (runtime.md "Lifecycle"), and the state
each kind sees; hooks.py runs them.

    create:  prestart, createRuntime (ours), createContainer (inside), status
             "created": steps 3 to 5 come after step 2, and "created" is the
             status after step 2 (runtime.md "State")
    start:   startContainer (inside, as the container's process, under its
             seccomp filter, as runc runs it in the init after the load),
             then poststart (hooks.run: start needs nothing else of this)
    delete:  poststop (hooks.poststop: delete needs nothing else of this)
The hooks that run inside the container see the pid as the container sees it.
"""
import os

from . import hooks
from .launch import compile_seccomp, join_container
from .procfs import pid_in_own_namespace
from .state import CREATED, ContainerDir, State


def at_create(cdir: ContainerDir, st: State, table: dict) -> None:
    """The init waits before pivot_root (OP_HOOKS)."""
    oci = st.oci(CREATED)
    hooks.run("prestart", table, oci)
    hooks.run("createRuntime", table, oci)
    hooks.run("createContainer", table, _seen_from_inside(oci),
              in_container=lambda hook, stdio: _in_container(cdir, st, hook, stdio, None))


def start_container(cdir: ContainerDir, st: State) -> None:
    """Inside the container, as its process, before the program runs."""
    st = cdir.load_exec(st)
    hooks.run("startContainer", st.hooks, _seen_from_inside(st.oci(CREATED)),
              in_container=lambda hook, stdio: _in_container(cdir, st, hook, stdio, st.process))


def _seen_from_inside(oci: dict) -> dict:
    return dict(oci, pid=pid_in_own_namespace(oci["pid"]))


def _in_container(cdir: ContainerDir, st: State, hook: dict, stdio: list[int],
                  base: dict | None) -> int:
    """Start a hook inside the container, as exec starts a process; its pid.
    A startContainer hook (base: the container's process) runs under the
    container's seccomp filter."""
    seccomp = compile_seccomp(st.seccomp, os.path.dirname(cdir.path)) if base else None
    init = join_container(cdir.path, st, hooks.container_process(hook, base, st.rootfs),
                          program=hook["path"], stdio=stdio, pointer="/hooks", seccomp=seccomp)
    init.exec_now()
    return init.pid
