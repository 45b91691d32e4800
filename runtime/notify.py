"""sd_notify passthrough (NOTIFY_SOCKET), as runc does it.

When the runtime is called with NOTIFY_SOCKET set (systemd, or Podman's
--sdnotify=container), create binds a directory of the state dir into the
container at /run/notify and points the container's NOTIFY_SOCKET there.
start binds a datagram socket in that directory before the program runs, then
waits for the program's READY=1 and passes it on to the caller's socket with
MAINPID set to the container's init, so the service manager watches it.
"""
import os

import _socket  # socket.py's enum set-up costs ~2.5 ms; the C module suffices

from .errors import PyruncError, strerror

NOTIFY_DIR = "notify"
SOCKET_NAME = "notify.sock"
IN_CONTAINER = "/run/notify"
MAX_DATAGRAM = 4096


def host_socket() -> str | None:
    return os.environ.get("NOTIFY_SOCKET") or None


def prepare(config: dict, state_dir: str) -> None:
    """Bind the state dir's notify directory into the container (read-only:
    the socket file only needs to be connectable) and tell the program."""
    path = os.path.join(state_dir, NOTIFY_DIR)
    os.mkdir(path, 0o755)
    config.setdefault("mounts", []).append({
        "destination": IN_CONTAINER, "type": "bind", "source": path,
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"]})
    env = config["process"].setdefault("env", [])
    env[:] = [e for e in env if not e.startswith("NOTIFY_SOCKET=")]
    env.append(f"NOTIFY_SOCKET={IN_CONTAINER}/{SOCKET_NAME}")


def bind(state_dir: str):
    """The socket the program's sd_notify reaches; bound before it runs."""
    path = os.path.join(state_dir, NOTIFY_DIR, SOCKET_NAME)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    sock.bind(path)
    os.chmod(path, 0o777)  # any user in the container may notify
    return sock


def forward_ready(sock, target: str, main_pid: int) -> None:
    """Wait for a message with READY=1 and pass READY=1 and MAINPID on."""
    try:
        while True:
            lines = sock.recv(MAX_DATAGRAM).decode(errors="replace").splitlines()
            if "READY=1" in lines:
                break
    finally:
        sock.close()
    address = "\0" + target[1:] if target.startswith("@") else target
    out = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        out.sendto(f"READY=1\nMAINPID={main_pid}\n".encode(), address)
    except OSError as e:
        raise PyruncError(f"NOTIFY_SOCKET {target}: {strerror(e)}") from None
    finally:
        out.close()
