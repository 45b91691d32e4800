"""Helpers for the Kubernetes lane (test_cri.py): containerd's CRI plugin with
two runtime handlers, ``runc`` and ``pyrunc``, driven by a CRI client.

* ``CriEnv`` is a ``containerd_env.ContainerdEnv`` (own root, state, gRPC and
  ttrpc sockets, log, all under one temp dir; the same careful teardown) whose
  config enables the CRI plugin: ``sandbox_image`` a pause image built here
  from ``cri/pause.c`` (gcc -static), the busybox image of containerd_env,
  both imported as docker-archives into the ``k8s.io`` namespace; the handlers
  ``runc`` and ``pyrunc``, both ``io.containerd.runc.v2`` with ``BinaryName``
  and a ``Root`` of their own under the temp dir; the streaming server on
  127.0.0.1 only; CNI ``bin_dir``/``conf_dir`` under the temp dir holding
  ``cri/lo-cni``, a plugin that brings up ``lo`` in the pod's network
  namespace and reports 127.0.0.1 (nothing on the host's side).
  Pods get a ``cgroup_parent`` below one unique parent, which the teardown
  empties and removes in every cgroup hierarchy.
* ``CriClient``: stubs compiled at test time from ``cri/cri_api.proto`` (our
  subset of the CRI v1 API) with grpcio-tools, over a gRPC channel to the unix
  socket; every call is timed per runtime handler.
* ``stream_exec``: the client side of the streaming server's websocket
  protocol ``v4.channel.k8s.io`` (the URL that Exec returns).

Facts this relies on (containerd 1.6.20, Debian):
* the runc-v2 shim calls the runtime with ``--root <Root>/k8s.io``; one shim
  serves a whole pod (its socket is named after the sandbox id);
* the CRI plugin puts container ``cgroupsPath`` at ``<cgroup_parent>/<id>``
  (cgroupfs driver), the netns bind mounts under its state dir when
  ``netns_mounts_under_state_dir`` is set, and runs the CNI plugin called
  ``loopback`` from ``bin_dir`` besides the network of ``conf_dir``;
* pod sandboxes ask for ``oom_score_adj`` -998, which fails where the bounding
  set lacks CAP_SYS_RESOURCE unless ``restrict_oom_score_adj`` is set;
* the streaming URL is built from the configured address and port (port 0
  would give unusable URLs), so a free port is picked first;
* containerd's CNI library keeps each ADD's result in /var/lib/cni/results
  (``<network>-<sandbox id>-<ifname>``; no setting moves it) until the DEL:
  the teardown removes the entries of our pods and the directories if it
  made them.
"""

from __future__ import annotations

import collections
import importlib
import importlib.util
import io
import json
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import time
import tomllib
import warnings
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CRI_DIR = os.path.join(HERE, "cri")
PROTO = "cri_api.proto"
CRI_NAMESPACE = "k8s.io"
BUSYBOX_REF = ce.IMAGE_REF
PAUSE_REF = "docker.io/library/pyrunc-pause:test"
HANDLERS = ("runc", "pyrunc")
CNI_NETWORK = "pyrunc-lo"
CNI_VERSION = "0.4.0"
PYTHON_MODULES = {"grpc": "grpcio", "grpc_tools": "grpcio-tools",
                  "google.protobuf": "protobuf"}
IMAGE_METHODS = {"ListImages", "ImageStatus"}
CNI_CACHE_DIRS = ("/var/lib/cni", "/var/lib/cni/results")
CNI_LOOPBACK_NETWORK = "cni-loopback"  # the name containerd's CNI library gives lo's network


def runc_binary() -> str | None:
    return shutil.which("runc")


def missing_tools() -> list[str]:
    """What this lane needs and cannot find (containerd_env's list, runc,
    gcc with a static libc, nsenter and ip for the CNI plugin, the Python
    gRPC packages)."""
    missing = ce.missing_tools()
    if runc_binary() is None:
        missing.append("runc")
    for tool, package in (("gcc", "gcc"), ("nsenter", "util-linux"), ("ip", "iproute2")):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            missing.append(f"{tool} ({package})")
    for module, package in PYTHON_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # its parent package is missing
            found = False
        if not found:
            missing.append(f"Python package {package}")
    return missing


# --------------------------------------------------------------------------
# the CRI API stubs

_API = None


def cri_api():
    """(messages module, grpc module) compiled from cri/cri_api.proto by
    grpcio-tools into a temp dir that is removed once they are imported."""
    global _API
    if _API is None:
        from grpc_tools import protoc
        out = tempfile.mkdtemp(prefix="pyrunc-cri-proto-")
        try:
            rc = protoc.main(["grpc_tools.protoc", f"-I{CRI_DIR}", f"--python_out={out}",
                              f"--grpc_python_out={out}", os.path.join(CRI_DIR, PROTO)])
            if rc != 0:
                raise RuntimeError(f"grpc_tools.protoc failed on {PROTO} (status {rc})")
            base = PROTO[:-len(".proto")]
            sys.path.insert(0, out)
            try:
                _API = (importlib.import_module(base + "_pb2"),
                        importlib.import_module(base + "_pb2_grpc"))
            finally:
                sys.path.remove(out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return _API


class CriCallFailed(Exception):
    def __init__(self, method: str, code, details: str, seconds: float):
        self.method, self.code, self.details = method, code, details
        super().__init__(f"CRI {method} failed after {seconds:.2f}s: "
                         f"{getattr(code, 'name', code)}: {details}")


class CriClient:
    """The CRI RuntimeService and ImageService over the unix socket.
    ``call(method, {fields}, tag=handler)`` builds the request from a dict
    (protobuf JSON mapping: enums by name), returns the response message and,
    with a tag, adds the call's duration to ``timings[tag][method]``."""

    def __init__(self, address: str):
        import grpc
        from google.protobuf import json_format
        self._grpc = grpc
        self._json = json_format
        self.pb, pb_grpc = cri_api()
        self.channel = grpc.insecure_channel("unix://" + address)
        self.runtime = pb_grpc.RuntimeServiceStub(self.channel)
        self.images = pb_grpc.ImageServiceStub(self.channel)
        self.timings: dict[str, dict[str, list[float]]] = collections.defaultdict(
            lambda: collections.defaultdict(list))

    def message(self, name: str, fields: dict | None = None):
        return self._json.ParseDict(fields or {}, getattr(self.pb, name)())

    def call(self, method: str, fields: dict | None = None, *, tag: str | None = None,
             timeout: float = 60.0):
        stub = self.images if method in IMAGE_METHODS else self.runtime
        request = self.message(method + "Request", fields)
        start = time.monotonic()
        try:
            response = getattr(stub, method)(request, timeout=timeout)
        except self._grpc.RpcError as e:
            raise CriCallFailed(method, e.code(), e.details(),
                                time.monotonic() - start) from None
        if tag is not None:
            self.timings[tag][method].append(time.monotonic() - start)
        return response

    def to_dict(self, msg) -> dict:
        return self._json.MessageToDict(msg, preserving_proto_field_name=True)

    def close(self):
        self.channel.close()


def not_found(e: Exception) -> bool:
    return isinstance(e, CriCallFailed) and getattr(e.code, "name", "") == "NOT_FOUND"


# --------------------------------------------------------------------------
# the pause image

def write_docker_archive(out_path: str, ref: str, files: list[tuple[str, int, bytes]],
                         config: dict) -> str:
    """A docker-archive of one layer holding ``files`` (path, mode, data) and
    the image config ``config`` (containerd_env writes the archive)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode, data in files:
            tar.addfile(ce._tarinfo(name, tarfile.REGTYPE, mode, size=len(data)),
                        io.BytesIO(data))
    return ce.write_docker_archive(out_path, ref, buf.getvalue(), config)


def build_pause_image(out_path: str, build_dir: str, ref: str = PAUSE_REF) -> str:
    """Compile cri/pause.c statically and pack it as the image's /pause."""
    binary = os.path.join(build_dir, "pause")
    r = ce.run(["gcc", "-static", "-O2", "-o", binary, os.path.join(CRI_DIR, "pause.c")],
               timeout=120)
    if r.returncode != 0:
        raise RuntimeError("cannot build the pause program\n" + r.describe())
    with open(binary, "rb") as f:
        data = f.read()
    return write_docker_archive(out_path, ref, [("pause", 0o755, data)],
                                {"Entrypoint": ["/pause"], "WorkingDir": "/"})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# the private containerd with its CRI plugin

@dataclass
class Pod:
    id: str
    handler: str
    config: dict
    containers: list = field(default_factory=list)


@dataclass
class CriEnv(ce.ContainerdEnv):
    runc: str = ""
    namespace: str = CRI_NAMESPACE
    cri: CriClient | None = None
    pods: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.tmpdir:
            self.tmpdir = tempfile.mkdtemp(prefix="pyrunc-cri-", dir="/tmp")
        super().__post_init__()
        t = self.tmpdir
        self.cni_bin_dir = f"{t}/cni/bin"
        self.cni_conf_dir = f"{t}/cni/net.d"
        self.build_dir = f"{t}/build"
        self.pod_log_dir = f"{t}/pod-logs"
        self.pause_tar = f"{t}/pyrunc-pause.tar"
        self.cgroup_parent = "/pyrunc-cri-" + os.urandom(4).hex()
        self.binaries = {"runc": self.runc or runc_binary(), "pyrunc": self.runtime}
        self.roots = {h: f"{t}/root-{h}" for h in HANDLERS}
        self.stream_port = 0
        self._pod_count = 0
        self._cni_cache_existed = {d: os.path.isdir(d) for d in CNI_CACHE_DIRS}

    # ---- paths

    def runtime_state(self, handler: str, cid: str) -> str:
        """Where a handler's runtime keeps a container's (or sandbox's) state."""
        return f"{self.roots[handler]}/{self.namespace}/{cid}"

    def pod_cgroup_parent(self, pod_name: str) -> str:
        return f"{self.cgroup_parent}/{pod_name}"

    # ---- set-up

    def write_config(self):
        """containerd_env's config (own root, state, sockets, debug log) with
        the CRI plugin enabled and configured."""
        super().write_config()
        for d in (self.cni_bin_dir, self.cni_conf_dir, self.build_dir, self.pod_log_dir,
                  *self.roots.values()):
            os.makedirs(d, exist_ok=True)
        self._install_cni()
        self.stream_port = free_port()
        with open(self.config_path) as f:
            base = f.read()
        base = base.replace('"io.containerd.grpc.v1.cri", ', "")
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        lines = [
            f"  [{cri}]",
            f'    sandbox_image = "{PAUSE_REF}"',
            '    stream_server_address = "127.0.0.1"',
            f'    stream_server_port = "{self.stream_port}"',
            "    enable_tls_streaming = false",
            "    enable_selinux = false",
            "    disable_apparmor = true",
            "    restrict_oom_score_adj = true",
            "    netns_mounts_under_state_dir = true",
            f"    [{cri}.containerd]",
            f'      snapshotter = "{ce.SNAPSHOTTER}"',
            '      default_runtime_name = "runc"',
            "      disable_snapshot_annotations = true",
        ]
        for h in HANDLERS:
            lines += [
                f"      [{cri}.containerd.runtimes.{h}]",
                '        runtime_type = "io.containerd.runc.v2"',
                f"        [{cri}.containerd.runtimes.{h}.options]",
                f'          BinaryName = "{self.binaries[h]}"',
                f'          Root = "{self.roots[h]}"',
                "          SystemdCgroup = false",
            ]
        lines += [
            f"    [{cri}.cni]",
            f'      bin_dir = "{self.cni_bin_dir}"',
            f'      conf_dir = "{self.cni_conf_dir}"',
            "      max_conf_num = 1",
        ]
        cfg = base + "\n".join(lines) + "\n"
        parsed = tomllib.loads(cfg)
        if "io.containerd.grpc.v1.cri" in parsed.get("disabled_plugins", []):
            raise RuntimeError("containerd_env's config layout changed: the CRI plugin "
                               f"is still disabled in {self.config_path}")
        with open(self.config_path, "w") as f:
            f.write(cfg)

    def _install_cni(self):
        src = os.path.join(CRI_DIR, "lo-cni")
        for name in (CNI_NETWORK, "loopback"):
            dst = os.path.join(self.cni_bin_dir, name)
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o755)
        conf = {"cniVersion": CNI_VERSION, "name": CNI_NETWORK,
                "plugins": [{"type": CNI_NETWORK}]}
        with open(os.path.join(self.cni_conf_dir, f"10-{CNI_NETWORK}.conflist"), "w") as f:
            json.dump(conf, f)

    def start(self, timeout: float = 30.0):
        self._cni_cache_existed = {d: os.path.isdir(d) for d in CNI_CACHE_DIRS}
        super().start(timeout=timeout)
        self.cri = CriClient(self.address)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                status = self.cri.call("Status", timeout=5)
                conds = {c.type: (c.status, c.reason, c.message)
                         for c in status.status.conditions}
                last = conds
                if all(conds.get(t, (False,))[0] for t in ("RuntimeReady", "NetworkReady")):
                    return
            except CriCallFailed as e:
                last = e
            time.sleep(0.2)
        raise RuntimeError(f"the CRI plugin is not ready after {timeout:.0f}s: {last}\n"
                           + self.containerd_log_tail())

    def import_images(self):
        """The busybox image (containerd_env) and the pause image, imported
        with `ctr -n k8s.io images import` and then seen by the CRI plugin."""
        self.import_image(BUSYBOX_REF)
        build_pause_image(self.pause_tar, self.build_dir)
        r = self.ctr("images", "import", "--snapshotter", ce.SNAPSHOTTER, self.pause_tar,
                     timeout=60)
        if r.returncode != 0:
            raise RuntimeError("pause image import failed\n" + r.describe() + "\n"
                               + self.containerd_log_tail())
        for ref in (BUSYBOX_REF, PAUSE_REF):
            seen = ce.poll(lambda: self.cri.call("ImageStatus", {"image": {"image": ref}},
                                                 timeout=10).image.id, timeout=20)
            if not seen:
                raise RuntimeError(f"the CRI plugin does not see image {ref}\n"
                                   + self.containerd_log_tail())

    # ---- pods and containers

    def pod_config(self, name: str, *, network: str = "POD", pid: str = "CONTAINER",
                   ipc: str = "POD", hostname: str | None = None) -> dict:
        """A PodSandboxConfig as the kubelet makes it: pid CONTAINER unless
        shared (POD) or host (NODE); the pod's cgroup below our parent."""
        self._pod_count += 1
        uid = os.urandom(8).hex()
        if hostname is None and network != "NODE":
            hostname = name
        return {
            "metadata": {"name": name, "uid": uid, "namespace": "pyrunc-test",
                         "attempt": 0},
            "hostname": hostname or "",
            "log_directory": f"{self.pod_log_dir}/{name}-{uid}",
            "linux": {
                "cgroup_parent": self.pod_cgroup_parent(f"pod{self._pod_count}-{uid}"),
                "security_context": {"namespace_options": {
                    "network": network, "pid": pid, "ipc": ipc}},
            },
        }

    def run_pod(self, handler: str, name: str, **opts) -> Pod:
        config = self.pod_config(name, **opts)
        resp = self.cri.call("RunPodSandbox", {"config": config, "runtime_handler": handler},
                             tag=handler, timeout=120)
        pod = Pod(resp.pod_sandbox_id, handler, config)
        self.pods[pod.id] = pod
        self.remember(pod.id)
        return pod

    def create_container(self, pod: Pod, name: str, command: list[str], *,
                         pid: str | None = None, resources: dict | None = None,
                         tty: bool = False, stdin: bool = False) -> str:
        ns = pod.config["linux"]["security_context"]["namespace_options"]
        linux = {"security_context": {"namespace_options": {
            "network": ns["network"], "ipc": ns["ipc"], "pid": pid or ns["pid"]}}}
        if resources:
            linux["resources"] = resources
        config = {"metadata": {"name": name, "attempt": 0},
                  "image": {"image": BUSYBOX_REF},
                  "command": command,
                  "log_path": f"{name}.log",
                  "tty": tty, "stdin": stdin,
                  "linux": linux}
        resp = self.cri.call("CreateContainer", {"pod_sandbox_id": pod.id, "config": config,
                                                 "sandbox_config": pod.config},
                             tag=pod.handler, timeout=120)
        pod.containers.append(resp.container_id)
        self.remember(resp.container_id)
        return resp.container_id

    def container_log(self, pod: Pod, name: str) -> str:
        return os.path.join(pod.config["log_directory"], f"{name}.log")

    def remove_pod(self, pod_id: str, tag: str | None = None, timeout: float = 60.0):
        """StopPodSandbox + RemovePodSandbox (a pod that is gone already is fine)."""
        for method in ("StopPodSandbox", "RemovePodSandbox"):
            try:
                self.cri.call(method, {"pod_sandbox_id": pod_id}, tag=tag, timeout=timeout)
            except CriCallFailed as e:
                if not not_found(e):
                    raise
        self.pods.pop(pod_id, None)

    def remove_pods(self, pod_ids=None, budget: float = 60.0,
                    tag: str | None = None) -> list[str]:
        """Best effort: remove the given pods (default: every pod containerd
        lists), timing the calls under ``tag``; returns the problems."""
        problems = []
        deadline = time.monotonic() + budget
        if pod_ids is None:
            try:
                pod_ids = [p.id for p in self.cri.call("ListPodSandbox", timeout=10).items]
            except CriCallFailed as e:
                return [f"ListPodSandbox: {e}"]
        for pod_id in list(pod_ids):
            left = deadline - time.monotonic()
            if left <= 0:
                problems.append(f"no time left to remove pod {pod_id}")
                continue
            try:
                self.remove_pod(pod_id, tag=tag, timeout=min(30.0, left))
            except CriCallFailed as e:
                problems.append(f"pod {pod_id}: {e}")
        return problems

    # ---- host-side views

    def shims_of(self, pod_id: str) -> list[int]:
        """Our shims serving the given pod (``-id <sandbox id>``)."""
        pids = []
        for pid in self._our_shims():
            argv = ce.cmdline(pid)
            if any(a in ("-id", "--id") and argv[i + 1:i + 2] == [pod_id]
                   for i, a in enumerate(argv)):
                pids.append(pid)
        return pids

    def cni_cache_entries(self, pod_ids=None) -> list[str]:
        """The CNI library's cached results of our networks for the given
        pods (default: every id this environment remembers)."""
        ids = set(self._container_ids if pod_ids is None else pod_ids)
        try:
            names = os.listdir(CNI_CACHE_DIRS[1])
        except FileNotFoundError:
            return []
        return [os.path.join(CNI_CACHE_DIRS[1], n) for n in sorted(n for n in names
                if n.startswith((CNI_NETWORK + "-", CNI_LOOPBACK_NETWORK + "-"))
                and n.split("-")[-2] in ids)]

    def _clean_cni_cache(self) -> list[str]:
        for path in self.cni_cache_entries():
            os.unlink(path)
        for d in reversed(CNI_CACHE_DIRS):
            if not self._cni_cache_existed.get(d, True) and os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError as e:
                    return [f"{d} (made by this test's containerd) is not empty: {e}"]
        return []

    # ---- teardown

    def _cgroup_tops(self) -> list[str]:
        return [h["path"] + self.cgroup_parent for h in ce.cgroup_hierarchies()]

    def teardown(self) -> None:
        if self.cri is not None:
            try:
                if self.proc is not None and self.proc.poll() is None:
                    problems = self.remove_pods()
                    if problems:
                        warnings.warn("CRI test teardown: " + "; ".join(problems))
            finally:
                self.cri.close()
                self.cri = None
        try:
            super().teardown()
        finally:
            problems = self._clean_cni_cache()
            if problems:
                raise RuntimeError("CRI test environment cleanup problems:\n  "
                                   + "\n  ".join(problems))


def stream_exec(url: str, *, stdin: bytes | None = None, send_after=None,
                resize: tuple[int, int] | None = None, timeout: float = 30.0) -> dict:
    """Run the exec that ``url`` (from CRI Exec) names over the websocket
    protocol v4.channel.k8s.io: each binary frame's first byte is the
    channel (0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize).
    ``stdin`` is sent at once, or once stdout matches the regex
    ``send_after``.  Returns stdout, stderr, the status and the exit code."""
    import websocket
    ws_url = "ws" + url[len("http"):] if url.startswith("http") else url
    out = {1: bytearray(), 2: bytearray(), 3: bytearray()}
    sent = stdin is None
    timed_out = False
    start = time.monotonic()
    ws = websocket.create_connection(ws_url, subprotocols=["v4.channel.k8s.io"],
                                     timeout=timeout)
    try:
        if resize is not None:
            ws.send_binary(b"\x04" + json.dumps({"Width": resize[0],
                                                 "Height": resize[1]}).encode())
        if not sent and send_after is None:
            ws.send_binary(b"\x00" + stdin)
            sent = True
        while True:
            if time.monotonic() - start > timeout:
                timed_out = True
                break
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketConnectionClosedException:
                break
            except websocket.WebSocketTimeoutException:
                timed_out = True
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if data:
                out.setdefault(data[0], bytearray()).extend(data[1:])
            if not sent and send_after.search(bytes(out[1])):
                ws.send_binary(b"\x00" + stdin)
                sent = True
    finally:
        ws.close()
    status = json.loads(out[3].decode()) if out[3] else None
    code = None
    if status is not None:
        if status.get("status") == "Success":
            code = 0
        else:
            for cause in (status.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode":
                    code = int(cause["message"])
    return {"stdout": bytes(out[1]), "stderr": bytes(out[2]), "status": status,
            "exit_code": code, "timed_out": timed_out, "sent": sent,
            "seconds": time.monotonic() - start}

