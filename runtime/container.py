"""The OCI lifecycle: create → created → start → running → stopped → delete.

Each operation takes the container's lock, derives the status from the system
(never from the file alone) and either finishes or undoes what it did.
"""
import os
import select
import signal
import time

from .cgroups import Cgroup, clone_into_cgroup_supported
from . import log
from .caps import drop_ungrantable
from .errors import ConfigError, ContainerNotExist, PyruncError, strerror
from .faults import point
from .procfs import open_pidfd, start_time
from .state import ContainerDir, oci_state, require_cgroup

DELETE_TIMEOUT = 10.0  # seconds to wait for a killed container to go away


# -- create --

def create(root: str, container_id: str, bundle: str, pid_file: str | None = None,
           no_pivot: bool = False, preserve_fds: int = 0, console_socket: str | None = None,
           foreground: bool = False, optional_cgroups: bool = False):
    """Create the container and leave its init blocked on the exec fifo.
    Returns the Init (the caller is its parent: `run` waits for it). With a
    terminal, the pty master goes to console_socket, or (foreground `run`)
    stays in init.console_fd for the caller to relay. optional_cgroups:
    rootless, cgroups we may not write are left out (rootless.py)."""
    from .launcher import open_fds  # create-only imports: keep state/kill/delete light

    preserved = open_fds(3, preserve_fds)
    cdir = ContainerDir(root, container_id)
    from . import spec

    bundle = os.path.abspath(bundle)
    config = spec.load(bundle, cache_dir=root)
    check_terminal_flags(bool(config["process"].get("terminal")), console_socket, foreground,
                         "config.json: /process/terminal")
    preserve_fds = _listen_fds(config, preserve_fds, preserved)
    compiled = compile_seccomp(config.get("linux", {}).get("seccomp"), root)
    id_mapped = _id_mapped_mounts(config, bundle)
    cdir.claim()
    point("claimed")
    log.debug(f"create {container_id}: bundle {bundle}, state in {cdir.path}")
    undo = []
    try:
        init = _create_claimed(cdir, config, bundle, pid_file, no_pivot, preserve_fds,
                               preserved, undo, console_socket, compiled, id_mapped,
                               optional_cgroups)
    except BaseException as e:
        for step in reversed(undo):
            try:
                step()
            except Exception:
                pass
        cdir.remove()
        from .hooks import HookError
        if isinstance(e, HookError):  # the spec's lifecycle goes on to poststop
            _poststop(config.get("hooks"), {"ociVersion": config["ociVersion"],
                                            "id": container_id, "status": "stopped", "pid": 0,
                                            "bundle": bundle,
                                            "annotations": config.get("annotations", {})})
        raise
    finally:
        cdir.unlock()
    return init


def _id_mapped_mounts(config: dict, bundle: str) -> list:
    """Bind mounts the parent prepares (idmap.py): id-mapped ones, and with a
    new user namespace all of them."""
    from .userns import new_user_namespace
    if not new_user_namespace(config) and not any(
            "uidMappings" in m or "gidMappings" in m
            or {"idmap", "ridmap"} & set(m.get("options", [])) for m in config.get("mounts", [])):
        return []
    from .idmap import wanted
    return wanted(config, bundle)


def compile_seccomp(profile: dict | None, root: str):
    """The container's seccomp filter (checked, compiled or cached), or None."""
    if profile is None:
        return None
    from . import seccomp
    return seccomp.prepare(profile, root)


def check_terminal_flags(terminal: bool, console_socket: str | None, foreground: bool,
                         what: str) -> None:
    """runc's rules: a terminal needs someone to hold its master."""
    if terminal and not console_socket and not foreground:
        raise PyruncError(f"{what}: a detached terminal needs --console-socket to receive "
                          "its pty master")
    if console_socket and not terminal:
        raise PyruncError(f"--console-socket {console_socket}: the process has no terminal "
                          f"({what} is not set)")


def _listen_fds(config: dict, preserve_fds: int, preserved: list[int]) -> int:
    """Socket activation: LISTEN_FDS passes fds 3.. on, as runc does."""
    count = os.environ.get("LISTEN_FDS", "")
    if not count.isdigit() or int(count) == 0:
        return preserve_fds
    from .launcher import open_fds
    n = int(count)
    env = config["process"].setdefault("env", [])
    env += [f"LISTEN_FDS={n}", "LISTEN_PID=1"]
    if n > preserve_fds:
        preserved[:] = open_fds(3, n)
        return n
    return preserve_fds


def _create_claimed(cdir, config, bundle, pid_file, no_pivot, preserve_fds, preserved, undo,
                    console_socket, compiled_seccomp, id_mapped, optional_cgroups):
    from . import plan
    from .caps import last_cap
    from .launcher import Init
    from .state import new_state
    from .userns import denies_setgroups

    rootfs = plan.rootfs_path(config, bundle)
    _default_home(config["process"], rootfs)
    drop_ungrantable(config["process"], "/process")
    from . import notify
    if notify.host_socket():
        notify.prepare(config, cdir.path)
    state = new_state(cdir.id, bundle, rootfs, config.get("annotations", {}))
    cg = Cgroup.for_container(config.get("linux", {}).get("cgroupsPath"), cdir.id)
    state["cgroup"] = cg.dirs
    if config.get("linux", {}).get("resources", {}).get("memory", {}).get("checkBeforeUpdate"):
        state["check_before_update"] = True
    # exec starts from the container's process (as runc reads it from the bundle);
    # hooks run at start and delete.
    state["process"] = config["process"]
    persona = config.get("linux", {}).get("personality")
    if persona:
        from .process_attrs import personality
        state["personality"] = personality(config["linux"])
    if config.get("linux", {}).get("memoryPolicy"):  # exec'd processes get it too
        from .process_attrs import memory_policy
        mode, mask = memory_policy(config["linux"])
        state["memory_policy"] = [mode, mask.hex()]
    if notify.host_socket():
        state["notify"] = True
    if config.get("hooks"):
        state["hooks"] = config["hooks"]
    if compiled_seccomp:  # exec'd processes get it too
        state["seccomp"] = config["linux"]["seccomp"]
    if not plan.has_mount_namespace(config):
        from . import host_mounts
        state["host_mounts"] = {"rootfs": rootfs, "before": host_mounts.under(rootfs)}
        undo.append(lambda: host_mounts.unmount_new(rootfs, state["host_mounts"]["before"]))
    cdir.save_cleanup(cg.dirs)
    cdir.save(state)
    fifo = cdir.fifo_path()
    os.mkfifo(fifo, 0o622)
    os.chmod(fifo, 0o622)  # mkfifo honours the umask
    point("state-saved")

    _check_existing_cgroup(cg)
    _create_cgroup(cg, optional_cgroups, config.get("linux", {}).get("cgroupsPath"))
    undo.append(cg.remove_made)
    undo.append(cg.destroy)
    if cg.left_out:
        state["cgroup"] = cg.dirs
        cdir.save_cleanup(cg.dirs)
        cdir.save(state)
        log.debug("rootless: left out the cgroups " + "; ".join(cg.left_out_reasons))
    resources = dict(config.get("linux", {}).get("resources") or {})
    # pids.max after the clone: CLONE_INTO_CGROUP counts as a fork, and the
    # spec's valid limit 0 would refuse the init itself (a move is no fork).
    pids = resources.pop("pids", None)
    _apply_resources(cg, resources, optional_cgroups)
    point("cgroup-made")
    log.debug("cgroup: " + (", ".join(cg.dirs.values()) or "none"))

    unified, tasks = cg.placement()
    parent_adds = []  # without CLONE_INTO_CGROUP the parent moves the init (slower)
    if unified and not clone_into_cgroup_supported():
        parent_adds, unified = [unified], None
    files = _open_placement_files(unified, tasks)
    try:
        trees = {}
        if id_mapped:
            from .idmap import make_trees
            trees = make_trees(id_mapped)
        numbers = Init.fd_numbers(preserve_fds, len(files) + len(trees))
        tree_numbers = dict(zip(trees, numbers[len(files):]))
        numbers = numbers[:len(files)]
        files += trees.values()
        if unified:
            clone_fd, task_numbers = numbers[0], numbers[1:]
        else:
            clone_fd, task_numbers = None, numbers
        ctx = plan.PlanContext(bundle=bundle, no_pivot=no_pivot, preserve_fds=preserve_fds,
                               cap_last_cap=last_cap(), cgroup_mounts=_cgroup_mounts(config, cg),
                               clone_cgroup_fd=clone_fd,
                               cgroup_task_fds=list(zip(task_numbers, tasks)),
                               seccomp=compiled_seccomp, mount_label=_mount_label(config),
                               idmapped=tree_numbers, setgroups_denied=denies_setgroups(config),
                               dumpable=_rootless_in_own_pid_namespace(config))
        ops = plan.build(config, ctx)
        init = Init(ops, cdir.path, preserve_fds, preserved, files)
    finally:
        for fd in files:
            os.close(fd)
    undo.append(init.kill)
    from .userns import new_user_namespace
    if new_user_namespace(config):  # the init waits for them (OP_WAIT)
        from .userns import write_mappings
        write_mappings(init.pid, config["linux"])
    if pids is not None:
        _apply_resources(cg, {"pids": pids}, optional_cgroups, devices=False)
    _delegate_cgroup(cg, config)
    point("spawned")
    state["init_pid"] = init.pid
    state["init_start"] = start_time(init.pid)
    cdir.save(state)
    point("pid-saved")
    if parent_adds:
        cg.add(init.pid, parent_adds)
    net_devices = config.get("linux", {}).get("netDevices")
    if net_devices:  # the init waits in its new namespaces
        from .netdevices import move
        move(net_devices, init.pid)
    init.go(on_hooks=lambda: _create_hooks(cdir, state, config),
            on_seccomp=lambda fd: _send_notify_fd(config["linux"]["seccomp"], fd, state,
                                                  init.pid, "creating"))
    point("ready")
    log.debug(f"create {cdir.id}: the init (pid {init.pid}) is ready to exec")
    if init.console_fd is not None and console_socket:
        from .terminal import send_console
        try:
            send_console(console_socket, init.console_fd)
        finally:
            os.close(init.console_fd)
            init.console_fd = None
    state["creating"] = False
    cdir.save(state)
    point("saved")
    if pid_file:
        write_pid_file(pid_file, init.pid)
    init.release()
    point("released")
    return init


def _create_cgroup(cg: Cgroup, rootless: bool, cgroups_path: str | None) -> None:
    """Rootless, cgroups we may not write are left out, unless config.json
    asked for a path (runc's rule: a cgroup asked for is needed)."""
    try:
        cg.create(optional=rootless and not cgroups_path)
    except PyruncError as e:
        if not (rootless and cgroups_path):
            raise
        raise ConfigError("/linux/cgroupsPath", f"{e}: a rootless container gets the cgroup "
                          "it names only where the caller may write") from None


def _check_existing_cgroup(cg: Cgroup) -> None:
    """A cgroup that exists already, as runc checks it: a frozen one would
    freeze the init before it is ready (create would wait forever), so it is
    refused; one with processes in it is used, with a warning."""
    from .cgroups.freezer import Freezer
    if Freezer(cg.dirs).frozen():
        raise PyruncError("container's cgroup unexpectedly frozen")
    pids = cg.pids()
    if pids:
        log.warning(f"container's cgroup is not empty: {len(pids)} process(es) found")


def _rootless_in_own_pid_namespace(config: dict) -> bool:
    return os.geteuid() != 0 and any(ns["type"] == "pid" and not ns.get("path")
                                     for ns in config["linux"]["namespaces"])


def _create_hooks(cdir: ContainerDir, state: dict, config: dict) -> None:
    """The init waits before pivot_root: prestart and createRuntime here,
    createContainer in the container's namespaces. Their state says
    "created": lifecycle steps 3 to 5 come after step 2, and "created" is
    the status after step 2 (runtime.md "State")."""
    from . import hooks
    table = config.get("hooks")
    oci = oci_state(state, "created")
    hooks.run("prestart", table, oci)
    hooks.run("createRuntime", table, oci)
    hooks.run("createContainer", table, _seen_from_inside(oci),
              in_container=lambda hook, stdio: _hook_in_container(cdir, state, hook, stdio, None))


def _seen_from_inside(oci: dict) -> dict:
    """runtime.md "State": for hooks in the container namespace, the pid as
    the container sees it."""
    from .procfs import pid_in_own_namespace
    return dict(oci, pid=pid_in_own_namespace(oci["pid"]))


def _hook_in_container(cdir: ContainerDir, st: dict, hook: dict, stdio: list[int],
                       base: dict | None) -> int:
    """Start a hook inside the container (as exec does); its pid. A
    startContainer hook (base: the container's process) runs under the
    container's seccomp filter, as runc runs it in the init after the load."""
    from .exec_process import spawn
    from .hooks import container_process
    seccomp = None
    if base is not None:
        seccomp = compile_seccomp(st.get("seccomp"), os.path.dirname(cdir.path))
    init = spawn(cdir.path, st, container_process(hook, base, st["rootfs"]), program=hook["path"],
                 stdio=stdio, pointer="/hooks", seccomp=seccomp)
    init.exec_now()
    return init.pid


def _mount_label(config: dict) -> str:
    """linux.mountLabel where SELinux can take it; ignored (as the spec's
    MAY) where it is off."""
    label = config.get("linux", {}).get("mountLabel", "")
    if not label:
        return ""
    from .process_attrs import selinux_enabled
    if selinux_enabled():
        return label
    log.debug("linux.mountLabel ignored: SELinux is not enabled on this host")
    return ""


def _send_notify_fd(profile: dict, fd: int, state: dict, pid: int, status: str) -> None:
    from .seccomp import send_notify_fd
    send_notify_fd(profile, fd, oci_state(state, status), pid)


def _poststop(table: dict | None, oci: dict) -> None:
    if (table or {}).get("poststop"):  # checked first: hooks imports subprocess (every delete)
        from . import hooks
        hooks.run("poststop", table, oci)


def _default_home(process: dict, rootfs: str) -> None:
    """runc sets HOME from the container's /etc/passwd when the config does not."""
    env = process.setdefault("env", [])
    if not any(e.startswith("HOME=") for e in env):
        from .rootfs_files import home_dir
        env.append("HOME=" + home_dir(rootfs, process.get("user", {}).get("uid", 0)))


def _apply_resources(cg: Cgroup, resources: dict | None, rootless: bool,
                     devices: bool = True) -> None:
    """devices=False: no default device rules (rootless, or a second call)."""
    from .cgroups.resources import apply
    if rootless:
        resources = _rootless_resources(cg, resources or {})
    apply(cg.dirs, resources, creating=True, devices=devices and not rootless)


def _delegate_cgroup(cg: Cgroup, config: dict) -> None:
    """config-linux.md "Cgroup ownership": on pure cgroup v2, with a cgroup
    namespace of its own and /sys/fs/cgroup mounted read-write, the
    container's cgroup (and the files /sys/kernel/cgroup/delegate lists)
    belongs to the host uid of process.user.uid."""
    from .cgroups.delegation import delegate
    delegate(cg.dirs, config)


def _rootless_resources(cg: Cgroup, resources: dict) -> dict:
    """Device rules are left out (as runc: the user namespace refuses mknod
    anyway, and a cgroup-v2 device program needs host privileges); other
    limits need the cgroups that were left out."""
    if "devices" in resources:
        log.debug("rootless: /linux/resources/devices ignored")
        resources = {k: v for k, v in resources.items() if k != "devices"}
    if resources and cg.left_out:
        raise ConfigError(f"/linux/resources/{next(iter(resources))}",
                          "cannot set a limit without a cgroup: this rootless container "
                          f"could not make its own ({cg.left_out_reasons[0]}); remove the "
                          "limits, or run with a delegated cgroup")
    return resources


def _open_placement_files(unified: str | None, tasks: list[str]) -> list[int]:
    """fds for Cgroup.placement(): the cgroup2 dir first (if any), then tasks files."""
    files = []
    try:
        if unified:
            files.append(os.open(unified, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        for path in tasks:
            files.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
    except OSError as e:
        for fd in files:
            os.close(fd)
        raise PyruncError(f"open cgroup {e.filename}: {strerror(e)}") from None
    return files


def _cgroup_mounts(config: dict, cg: Cgroup) -> list:
    """(hierarchy, host dir, data for a fresh mount or None for a bind) per hierarchy."""
    if not any(m.get("type") == "cgroup" for m in config.get("mounts", [])):
        return []
    namespaces = config.get("linux", {}).get("namespaces", [])
    own_ns = any(ns["type"] == "cgroup" and not ns.get("path") for ns in namespaces)
    # A user namespace may mount cgroup2 but not a v1 hierarchy: bind those.
    userns = any(ns["type"] == "user" for ns in namespaces)
    out = []
    dirs = cg.mount_dirs()
    for h, host_dir in dirs:
        data = None
        if own_ns and (h.is_v2 or not userns):
            data = "" if h.is_v2 else h.name
        if data == "" and len(dirs) == 1 and _bound_at_cgroup_mount(config, h.mountpoint):
            data = None  # the kernel refuses a second cgroup2 mount there (EBUSY)
        out.append((h.name, host_dir, data))
    return out


def _bound_at_cgroup_mount(config: dict, host_path: str) -> bool:
    """Whether an earlier rbind (runc's rootless spec binds /sys) puts the
    host's host_path exactly where the "cgroup" mount goes."""
    mounts = config["mounts"]
    at = next(i for i, m in enumerate(mounts) if m.get("type") == "cgroup")
    target = os.path.normpath(mounts[at]["destination"])
    for m in mounts[:at]:
        dest, source = os.path.normpath(m["destination"]), m.get("source", "")
        if "rbind" not in m.get("options", []) or not source.startswith("/"):
            continue
        if target == dest or target.startswith(dest.rstrip("/") + "/"):
            shown = os.path.normpath(os.path.join(source, os.path.relpath(target, dest)))
            if shown == os.path.normpath(host_path):
                return True
    return False


def write_pid_file(path: str, pid: int) -> None:
    """Decimal pid, no newline (containerd rejects one), replaced atomically."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.rename(tmp, path)
    except OSError as e:
        raise PyruncError(f"--pid-file {path}: {strerror(e)}") from None


# -- start --

def start(root: str, container_id: str) -> None:
    with ContainerDir(root, container_id) as cdir:
        state = cdir.load()
        notify_sock = None
        if state.get("notify") and os.environ.get("NOTIFY_SOCKET"):
            from . import notify
            notify_sock = notify.bind(cdir.path)
        try:
            _start_locked(cdir, state)
        except BaseException:
            if notify_sock:
                notify_sock.close()
            raise
    if notify_sock:  # as runc: start returns once the program said READY=1
        notify.forward_ready(notify_sock, os.environ["NOTIFY_SOCKET"], state["init_pid"])


def _start_locked(cdir: ContainerDir, state: dict) -> None:
    status = cdir.status(state)
    if status == "stopped":
        raise PyruncError("cannot start a container that has stopped")
    if status != "created":
        _remove_stale_fifo(cdir)
        raise PyruncError(f"cannot start an already {status} container")
    if state.get("hooks", {}).get("startContainer"):
        _start_hook_or_stop(cdir, state, _start_container_hooks)
    pidfd = _pidfd(state)
    fifo = os.open(cdir.fifo_path(), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    point("start-opened")
    try:
        # The init opens the fifo for writing, writes one byte and execs. If it
        # dies instead, its pidfd becomes readable and we do not hang.
        poller = select.poll()
        poller.register(fifo, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        while True:
            ready = dict(poller.poll())
            if fifo in ready and os.read(fifo, 1):
                break
            if pidfd in ready:
                raise PyruncError("cannot start a container that has stopped")
    finally:
        os.close(fifo)
        os.close(pidfd)
    point("start-read")
    log.debug(f"start {cdir.id}: the init read the exec fifo and executes the program")
    os.unlink(cdir.fifo_path())
    if state.get("hooks", {}).get("poststart"):
        _start_hook_or_stop(cdir, state, _poststart_hooks)


def _start_hook_or_stop(cdir: ContainerDir, state: dict, run_hooks) -> None:
    """runtime.md "Lifecycle" steps 7 and 9: a failed startContainer or
    poststart hook is an error; the container is stopped, destroyed (step
    12) and the poststop hooks run (step 13), as delete --force does."""
    from .hooks import HookError
    try:
        run_hooks(cdir, state)
    except HookError:
        _delete_locked(cdir, force=True)
        raise


def _start_container_hooks(cdir: ContainerDir, state: dict) -> None:
    """Inside the container, as its process, before the program runs."""
    from . import hooks
    hooks.run("startContainer", state["hooks"], _seen_from_inside(oci_state(state, "created")),
              in_container=lambda hook, stdio: _hook_in_container(
                  cdir, state, hook, stdio, state["process"]))


def _poststart_hooks(cdir: ContainerDir, state: dict) -> None:
    from . import hooks
    hooks.run("poststart", state["hooks"], oci_state(state, "running"))


def _remove_stale_fifo(cdir: ContainerDir) -> None:
    """A start killed after the init read its byte leaves the fifo behind."""
    try:
        os.unlink(cdir.fifo_path())
    except FileNotFoundError:
        pass


def _pidfd(state: dict) -> int:
    """A pidfd for the init, checked to be the same process (pid reuse)."""
    fd = open_pidfd(state["init_pid"], state["init_start"])
    if fd is None:
        raise PyruncError("container not running")
    return fd


# -- state, kill --

def state(root: str, container_id: str) -> dict:
    cdir = ContainerDir(root, container_id)
    st = cdir.load()
    return oci_state(st, cdir.status(st))


def kill(root: str, container_id: str, sig: int, all_processes: bool = False) -> None:
    cdir = ContainerDir(root, container_id)
    st = cdir.load()
    status = cdir.status(st)
    if all_processes:
        # As runc: every process of the cgroup in any state, stopped included
        # (containerd's shim ends what a shared-pid container's dead init left
        # behind); nothing to signal is no error.
        if not st["cgroup"]:  # rootless, without cgroups
            if status != "stopped":
                from .processes import signal_all
                signal_all(st["init_pid"], sig)
            return
        cg = Cgroup.from_dirs(st["cgroup"])
        if status != "stopped" or cg.exists():
            _signal_all(cg, sig)
        return
    if status not in ("created", "running", "paused"):
        raise PyruncError("container not running")
    pidfd = _pidfd(st)
    try:
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        raise PyruncError("container not running") from None
    finally:
        os.close(pidfd)


def _signal_all(cg: Cgroup, sig: int) -> None:
    """Every process of the container, frozen meanwhile so that none forks away
    from the signal, then thawed so that it is delivered (as runc does, also for
    a paused container)."""
    from .cgroups.freezer import Freezer
    freezer = Freezer(cg.dirs)
    if freezer.available():
        freezer.freeze()
    try:
        if sig == signal.SIGKILL:
            cg.kill()  # cgroup.kill where the kernel has it
        else:
            for pid in cg.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
    finally:
        if freezer.available():
            freezer.thaw()


# -- pause, resume, ps --

def pause(root: str, container_id: str) -> None:
    from .cgroups.freezer import Freezer
    with ContainerDir(root, container_id) as cdir:
        st = cdir.load()
        status = cdir.status(st)
        if status == "paused":
            raise PyruncError("container not running: it is paused already")
        if status not in ("created", "running"):
            raise PyruncError("container not running")
        Freezer(require_cgroup(st, "pause")).freeze()


def resume(root: str, container_id: str) -> None:
    from .cgroups.freezer import Freezer
    with ContainerDir(root, container_id) as cdir:
        st = cdir.load()
        if cdir.status(st) != "paused":
            raise PyruncError("container not paused")
        Freezer(require_cgroup(st, "resume")).thaw()


def pids(root: str, container_id: str) -> list[int]:
    """Host pids of every process in the container (runc ps): none once stopped."""
    cdir = ContainerDir(root, container_id)
    st = cdir.load()
    if cdir.status(st) == "stopped":
        return []
    if not st["cgroup"]:  # rootless, without cgroups
        from .processes import container_pids
        return container_pids(st["init_pid"])
    return sorted(Cgroup.from_dirs(st["cgroup"]).pids())


def update(root: str, container_id: str, resources: dict, source: str = "flags") -> None:
    """Apply new limits to a live container's cgroups. Errors point into the
    resources given (a file, stdin or the flags), not into config.json."""
    with ContainerDir(root, container_id) as cdir:
        st = cdir.load()
        if cdir.status(st) == "stopped":
            raise PyruncError("container not running")
        if st.get("check_before_update") and "memory" in resources:
            resources["memory"].setdefault("checkBeforeUpdate", True)
        from .cgroups.resources import apply
        try:
            apply(require_cgroup(st, "update"), resources, creating=False)
        except ConfigError as e:
            pointer = e.pointer.removeprefix("/linux/resources")
            raise ConfigError(pointer or "/", e.problem,
                              file="stdin" if source == "-" else source) from None


# -- delete --

def delete(root: str, container_id: str, force: bool = False) -> None:
    cdir = ContainerDir(root, container_id)
    if not cdir.exists():
        if force:
            return
        raise ContainerNotExist(container_id)
    try:
        cdir.lock()
    except ContainerNotExist:
        if force:
            return
        raise
    try:
        _delete_locked(cdir, force)
    finally:
        cdir.unlock()


def _delete_locked(cdir: ContainerDir, force: bool) -> None:
    container_id = cdir.id
    try:
        st = cdir.load()
    except PyruncError:
        if not force:
            raise
        # state.json is missing or corrupt: the cleanup journal still names the
        # cgroups, and everything the container ran is in them.
        cg = Cgroup.from_dirs(cdir.load_cleanup())
        _kill_cgroup(cg)
        _destroy_cgroup(cg)
        cdir.remove()
        return
    status = cdir.status(st)
    # The spec (runtime.md "Delete"): deleting a container that is not
    # stopped has no effect and is an error. runc kills a created one
    # instead; --force does that here.
    if status in ("created", "running", "paused") and not force:
        raise PyruncError(f"cannot delete container {container_id} that is not stopped: "
                          f"{status} (--force kills it first)")
    cg = Cgroup.from_dirs(st.get("cgroup", {}))
    if status != "stopped":
        _kill_everything(st, cg)
    point("delete-killed")
    log.debug(f"delete {container_id}: no process left")
    if st.get("host_mounts"):  # no mount namespace: it mounted in ours
        from . import host_mounts
        host_mounts.unmount_new(st["host_mounts"]["rootfs"], st["host_mounts"]["before"])
    _destroy_cgroup(cg)
    point("delete-cgroup")
    log.debug(f"delete {container_id}: cgroups removed")
    cdir.remove()
    _poststop(st.get("hooks"), oci_state(st, "stopped"))


def _kill_everything(st: dict, cg: Cgroup) -> None:
    try:
        pidfd = _pidfd(st)
    except PyruncError:
        pidfd = -1
    if not cg.dirs and pidfd >= 0:  # rootless, without cgroups
        from .processes import signal_all
        signal_all(st["init_pid"], signal.SIGKILL)
    _kill_cgroup(cg)
    # A v1-frozen process dies of SIGKILL only once thawed.
    from .cgroups.freezer import Freezer
    freezer = Freezer(cg.dirs)
    if freezer.frozen():
        freezer.thaw()
    if pidfd >= 0:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            select.select([pidfd], [], [], DELETE_TIMEOUT)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)


def _kill_cgroup(cg: Cgroup) -> None:
    cg.kill()


def _destroy_cgroup(cg: Cgroup) -> None:
    """rmdir fails with EBUSY until the killed processes have exited: wait for
    cgroup.events to say so (or, without cgroup2, retry with backoff), never a
    fixed sleep."""
    deadline = time.monotonic() + DELETE_TIMEOUT
    delay = 0.001
    while True:
        try:
            cg.destroy()
            return
        except PyruncError:
            if time.monotonic() > deadline:
                raise
            _kill_cgroup(cg)
            if not cg.wait_empty(deadline - time.monotonic()):
                time.sleep(delay)
                delay = min(delay * 2, 0.05)


# -- run --

FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)


def run(root: str, container_id: str, bundle: str, pid_file: str | None = None,
        detach: bool = False, no_pivot: bool = False, preserve_fds: int = 0,
        console_socket: str | None = None, optional_cgroups: bool = False,
        keep: bool = False) -> int:
    """create + start, then (unless detached) wait and delete (with keep, the
    stopped container stays for `delete`); the container's exit status
    becomes ours. A terminal without a console socket is relayed to our own
    (runc's foreground mode)."""
    init = create(root, container_id, bundle, pid_file, no_pivot, preserve_fds,
                  console_socket, foreground=not detach, optional_cgroups=optional_cgroups)
    if init.console_fd is not None:
        from .terminal import take_our_size
        take_our_size(init.console_fd)
    try:
        start(root, container_id)
    except BaseException:
        if init.console_fd is not None:
            os.close(init.console_fd)
        delete(root, container_id, force=True)
        raise
    if detach:
        return 0
    from .exec_process import wait
    try:
        return wait(init.pid, init.console_fd)
    finally:
        if not keep:
            delete(root, container_id, force=True)


def _forward(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
