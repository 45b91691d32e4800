"""`create`: the container, with its init blocked on the exec fifo until `start`
(runtime.md "Lifecycle" steps 1 to 5).

The state directory is claimed first (one create of an id wins); every step
after it registers its undo, so a failure or a signal leaves nothing behind.
Status is "creating" while this holds the lock.

What every create needs is imported at the top. A feature only some configs
use is imported where that feature begins ("feature import"): hooks, network
devices, id-mapped mounts, no mount namespace. Each costs 0.1 to 0.5 ms to
import, and a create that does not use it never pays.
"""
import os

from .. import front_record, log, notify, spec
from ..cgroups import Manager, check_systemd_driver, for_container
from ..config import Config
from ..errors import ConfigError, PyruncError
from ..faults import point
from ..fdio import write_pid_file
from ..launch import compile_seccomp, container_init, id_mapped_mounts, send_notify_fd
from ..launcher import Init
from ..plan_mounts import rootfs_path
from ..process_setup import inherited_fds, prepare_process
from ..process_attrs import memory_policy, personality
from ..procfs import start_time
from ..rootless import cgroups_optional
from ..state import CREATING, ContainerDir, State
from ..console import check_terminal_flags, hand_over
from ..userns import write_mappings


def run(args) -> int:
    create(args.root, args.container_id, args.bundle, args.pid_file, args.no_pivot,
           args.preserve_fds, args.console_socket,
           optional_cgroups=cgroups_optional(args.rootless), systemd=args.systemd_cgroup)
    return 0


def create(root: str, container_id: str, bundle: str, pid_file: str | None = None,
           no_pivot: bool = False, preserve_fds: int = 0, console_socket: str | None = None,
           foreground: bool = False, optional_cgroups: bool = False,
           systemd: bool = False) -> Init:
    """Create the container and leave its init blocked on the exec fifo.
    Returns the Init (the caller is its parent: `run` waits for it). With a
    terminal, the pty master goes to console_socket, or (foreground `run`)
    stays in init.console_fd for the caller to relay. optional_cgroups:
    rootless, cgroups we may not write are left out (rootless.py). systemd:
    --systemd-cgroup, a unit of systemd's (cgroups/systemd.py)."""
    if systemd:
        check_systemd_driver(optional_cgroups)
    if preserve_fds < 0:
        raise PyruncError(f"--preserve-fds {preserve_fds}: must not be negative")
    preserved = inherited_fds(preserve_fds)
    cdir = ContainerDir(root, container_id)
    bundle = os.path.abspath(bundle)
    config = spec.load(bundle)
    view = Config(config)
    check_terminal_flags(bool(view.process.get("terminal")), console_socket, foreground,
                         "config.json: /process/terminal")
    rootfs = rootfs_path(config, bundle)
    preserve_fds = prepare_process(view.process, "/process", preserve_fds, preserved)
    # The program compiles in a thread while create goes on; the init reads
    # it at the end. Not beside the steps that fork (pyroute2's netns helper,
    # newuidmap): a forked child would lack the compiling thread.
    seccomp = compile_seccomp(view.linux.get("seccomp"), root, background=not (
        view.linux.get("netDevices") or view.creates("user")))
    undo = [seccomp.pending.close] if seccomp and seccomp.pending else []
    try:
        id_mapped = id_mapped_mounts(view, bundle)
        cdir.claim()
    except BaseException:
        for step in undo:
            step()
        raise
    point("claimed")
    log.debug(f"create {container_id}: bundle {bundle}, state in {cdir.path}")
    try:
        init = _create_claimed(cdir, config, bundle, rootfs, pid_file, no_pivot, preserve_fds,
                               preserved, undo, console_socket, seccomp, id_mapped,
                               optional_cgroups, systemd)
    except BaseException as e:
        for step in reversed(undo):
            try:
                step()
            except Exception:
                pass
        cdir.remove()
        if view.hooks:
            from ..hooks import HookError, poststop  # feature import
            if isinstance(e, HookError):  # the spec's lifecycle goes on to poststop
                poststop(view.hooks, State.new(container_id, bundle, rootfs,
                                               view.annotations).oci(CREATING))
        raise
    finally:
        cdir.unlock()
    return init


def _new_state(cdir: ContainerDir, view: Config, bundle: str, rootfs: str,
               cgroups: Manager, seccomp) -> State:
    st = State.new(cdir.id, bundle, rootfs, view.annotations)
    st.cgroup = cgroups.saved()
    st.check_before_update = bool(view.resources.get("memory", {}).get("checkBeforeUpdate"))
    # What exec and the hooks need later: exec starts from the container's
    # process (as runc reads it from the bundle), with its personality,
    # memory policy and seccomp filter.
    st.process = view.process
    if view.linux.get("personality"):
        st.personality = personality(view.linux)
    if view.linux.get("memoryPolicy"):
        mode, mask = memory_policy(view.linux)
        st.memory_policy = [mode, mask.hex()]
    st.notify = bool(notify.host_socket())
    st.hooks = view.hooks or None
    if seccomp:
        st.seccomp = view.linux["seccomp"]
    return st


def _create_claimed(cdir: ContainerDir, config: dict, bundle: str, rootfs: str,
                    pid_file: str | None, no_pivot: bool, preserve_fds: int,
                    preserved: list[int], undo: list, console_socket: str | None, seccomp,
                    id_mapped: list, optional_cgroups: bool, systemd: bool) -> Init:
    view = Config(config)
    if notify.host_socket():
        notify.prepare(config, cdir.path)
    cgroups = for_container(view.linux.get("cgroupsPath"), cdir.id, systemd, view.annotations)
    st = _new_state(cdir, view, bundle, rootfs, cgroups, seccomp)
    if not view.has("mount"):  # it mounts in our namespace: delete unmounts
        from ..host_mounts import unmount_new, under  # feature import
        st.host_mounts = {"rootfs": rootfs, "before": under(rootfs)}
        undo.append(lambda: unmount_new(rootfs, st.host_mounts["before"]))
    cdir.save_cleanup(cgroups.saved())
    cdir.save(st)
    os.mkfifo(cdir.fifo_path(), 0o622)
    os.chmod(cdir.fifo_path(), 0o622)  # mkfifo honours the umask
    point("state-saved")

    pids = _make_cgroups(cgroups, view, optional_cgroups, undo)
    if cgroups.left_out:
        st.cgroup = cgroups.saved()
        cdir.save_cleanup(cgroups.saved())
        cdir.save(st)
        log.debug("rootless: left out the cgroups " + "; ".join(cgroups.left_out_reasons))
    point("cgroup-made")
    log.debug("cgroup: " + (", ".join(cgroups.dirs.values()) or "none"))

    trees = {}
    if id_mapped:
        from ..idmap import make_trees  # feature import
        trees = make_trees(id_mapped)
    init = container_init(cdir, bundle, config, cgroups, preserve_fds, preserved, no_pivot,
                          seccomp, trees)
    undo.append(init.kill)
    if view.creates("user"):  # the init waits for them (OP_WAIT)
        write_mappings(init.pid, view.linux)
    if pids is not None:
        _apply(cgroups, {"pids": pids}, optional_cgroups, devices=False)
    cgroups.delegate(config)
    point("spawned")
    st.init_pid = init.pid
    st.init_start = start_time(init.pid)
    cdir.save(st)
    point("pid-saved")
    if view.linux.get("netDevices"):  # the init waits in its new namespaces
        from ..netdevices import move  # feature import (pyroute2: ~200 ms)
        move(view.linux["netDevices"], init.pid)
    init.go(on_hooks=lambda: _create_hooks(cdir, st, view.hooks),
            on_seccomp=lambda fd: send_notify_fd(st, fd, init.pid, CREATING))
    if seccomp and seccomp.pending:  # sealed before the init may go on to read it
        seccomp.pending.finish()
        seccomp.pending.close()
    point("ready")
    log.debug(f"create {cdir.id}: the init (pid {init.pid}) is ready to exec")
    if init.console_fd is not None and console_socket:
        hand_over(console_socket, init)
    st.creating = False
    cdir.save(st)
    front_record.write(cdir.path, st, cgroups)  # the light commands' decisions
    point("saved")
    if pid_file:
        write_pid_file(pid_file, init.pid)
    init.release()
    point("released")
    return init


def _create_hooks(cdir: ContainerDir, st: State, table: dict) -> None:
    """The init stops for them (OP_HOOKS) only when the config has some."""
    from ..hook_points import at_create  # feature import
    at_create(cdir, st, table)


def _make_cgroups(cgroups: Manager, view: Config, optional: bool, undo: list):
    """The container's cgroups with their limits, but for pids.max: it is
    written after the clone (returned for that), as CLONE_INTO_CGROUP counts
    as a fork and the spec's valid limit 0 would refuse the init itself."""
    # A cgroup that exists already, as runc checks it: a frozen one would
    # freeze the init before it is ready (create would wait forever); one with
    # processes in it is used, with a warning.
    if cgroups.frozen():
        raise PyruncError("container's cgroup unexpectedly frozen")
    found = cgroups.pids()
    if found:
        log.warning(f"container's cgroup is not empty: {len(found)} process(es) found")
    # Rootless, cgroups we may not write are left out, unless config.json
    # asked for a path (runc's rule: a cgroup asked for is needed).
    cgroups_path = view.linux.get("cgroupsPath")
    try:
        cgroups.create(optional=optional and not cgroups_path)
    except PyruncError as e:
        if not (optional and cgroups_path):
            raise
        raise ConfigError("/linux/cgroupsPath", f"{e}: a rootless container gets the cgroup "
                          "it names only where the caller may write") from None
    undo.append(cgroups.remove_made)
    undo.append(cgroups.destroy)
    resources = dict(view.resources)
    pids = resources.pop("pids", None)
    _apply(cgroups, resources, optional)
    return pids


def _apply(cgroups: Manager, resources: dict, rootless: bool, devices: bool = True) -> None:
    """devices=False: no default device rules (rootless, or a second call)."""
    if rootless:
        resources = _rootless_resources(cgroups, resources)
    cgroups.apply(resources, creating=True, devices=devices and not rootless)


def _rootless_resources(cgroups: Manager, resources: dict) -> dict:
    """Device rules are left out (as runc: the user namespace refuses mknod
    anyway, and a cgroup-v2 device program needs host privileges); other
    limits need the cgroups that were left out."""
    if "devices" in resources:
        log.debug("rootless: /linux/resources/devices ignored")
        resources = {k: v for k, v in resources.items() if k != "devices"}
    if resources and cgroups.left_out:
        raise ConfigError(f"/linux/resources/{next(iter(resources))}",
                          "cannot set a limit without a cgroup: this rootless container "
                          f"could not make its own ({cgroups.left_out_reasons[0]}); remove the "
                          "limits, or run with a delegated cgroup")
    return resources
