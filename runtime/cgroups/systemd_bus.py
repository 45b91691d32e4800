"""systemd's manager over D-Bus, with jeepney (a small pure-Python D-Bus
library: no C binding to build, and nothing else imports it).

As runc (go-systemd): the system bus, else, for root, systemd's private
socket (/run/systemd/private: no bus daemon, no Hello); rootless, the user's
own systemd (its session bus, else its private socket). A unit is started or
stopped by a job; the call returns once systemd says the job is done
(the JobRemoved signal, after Subscribe), so the unit's cgroup exists when
start_unit() returns and is gone when stop_unit() returns.
"""
import os

from ..errors import PyruncError

SYSTEM_BUS = "/run/dbus/system_bus_socket"
PRIVATE_SOCKET = "/run/systemd/private"
JOB_TIMEOUT = 30.0  # seconds, as runc's wait for a unit's job
CALL_TIMEOUT = 30.0

_MANAGER_PATH = "/org/freedesktop/systemd1"
_MANAGER_IFACE = "org.freedesktop.systemd1.Manager"
_DEST = "org.freedesktop.systemd1"


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system")  # sd_booted(3)'s test


class Systemd:
    """One connection to systemd's manager."""

    def __init__(self, user: bool):
        """user: the calling user's own systemd (rootless), not the system's."""
        if not systemd_running():
            raise PyruncError("--systemd-cgroup: systemd is not running on this host "
                              "(no /run/systemd/system); leave the flag out and pyrunc "
                              "manages the cgroups itself")
        self._conn, self._bus_daemon = _connect(user)
        self._subscribed = False

    def close(self) -> None:
        self._conn.close()

    def _call(self, method: str, signature: str | None = None, body: tuple = (),
              path: str = _MANAGER_PATH, interface: str = _MANAGER_IFACE):
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg
        address = DBusAddress(path, bus_name=_DEST, interface=interface)
        try:
            reply = self._conn.send_and_get_reply(new_method_call(address, method, signature,
                                                                  body), timeout=CALL_TIMEOUT)
            return unwrap_msg(reply)
        except TimeoutError:
            raise PyruncError(f"systemd did not answer {method} in {CALL_TIMEOUT:.0f} s") from None
        except OSError as e:
            raise PyruncError(f"systemd D-Bus connection: {e}") from None

    def version(self) -> int:
        """systemd's version number ("252.39-1~deb12u2" → 252)."""
        (value,) = self._call("Get", "ss", (_MANAGER_IFACE, "Version"),
                              interface="org.freedesktop.DBus.Properties")
        digits = ""
        for c in value[1].lstrip("v"):
            if not c.isdigit():
                break
            digits += c
        return int(digits or 0)

    def manager_cgroup(self) -> str:
        """The manager's own cgroup: "/" for the system's, the user@UID.service
        one for a user's, below which its units' cgroups are."""
        (value,) = self._call("Get", "ss", (_MANAGER_IFACE, "ControlGroup"),
                              interface="org.freedesktop.DBus.Properties")
        return value[1] or "/"

    def start_unit(self, unit: str, properties: list) -> None:
        """StartTransientUnit, and wait for its job."""
        self._run_job("StartTransientUnit", "ssa(sv)a(sa(sv))",
                      (unit, "replace", properties, []), unit, "start")

    def stop_unit(self, unit: str) -> None:
        """StopUnit and wait; a unit systemd no longer has is stopped already."""
        self._run_job("StopUnit", "ss", (unit, "replace"), unit, "stop",
                      missing_ok="org.freedesktop.systemd1.NoSuchUnit")
        self.reset_failed(unit)

    def reset_failed(self, unit: str) -> None:
        """A failed unit stays loaded (and its name taken) until reset."""
        from jeepney.wrappers import DBusErrorResponse
        try:
            self._call("ResetFailedUnit", "s", (unit,))
        except DBusErrorResponse:
            pass  # not loaded, or not failed: nothing to reset

    def set_properties(self, unit: str, properties: list) -> None:
        from jeepney.wrappers import DBusErrorResponse
        try:
            self._call("SetUnitProperties", "sba(sv)", (unit, True, properties))
        except DBusErrorResponse as e:
            raise PyruncError(f"systemd: set the properties of {unit}: {_describe(e)}") from None

    def _run_job(self, method: str, signature: str, body: tuple, unit: str, verb: str,
                 missing_ok: str = "") -> None:
        """missing_ok: the D-Bus error that means there is nothing to do."""
        from jeepney import MatchRule
        from jeepney.wrappers import DBusErrorResponse
        rule = MatchRule(type="signal", interface=_MANAGER_IFACE, member="JobRemoved",
                         path=_MANAGER_PATH)
        if not self._subscribed:
            self._call("Subscribe")  # systemd sends job signals only to subscribers
            if self._bus_daemon:  # (a peer connection gets them without asking)
                from jeepney.bus_messages import message_bus
                self._conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT)
            self._subscribed = True
        with self._conn.filter(rule, bufsize=64) as removed:
            try:
                (job,) = self._call(method, signature, body)
            except DBusErrorResponse as e:
                if e.name == missing_ok:
                    return
                raise PyruncError(f"systemd: {verb} {unit}: {_describe(e)}") from None
            try:
                while True:
                    msg = self._conn.recv_until_filtered(removed, timeout=JOB_TIMEOUT)
                    _id, path, _unit, result = msg.body
                    if path == job:
                        break
            except TimeoutError:
                raise PyruncError(f"systemd: {verb} {unit}: the job did not finish in "
                                  f"{JOB_TIMEOUT:.0f} s") from None
        if result != "done":
            raise PyruncError(f"systemd: {verb} {unit}: the job ended {result!r}"
                              + (" (see `journalctl -u " + unit + "`)" if verb == "start" else ""))


def _describe(e) -> str:
    text = e.data[0] if e.data and isinstance(e.data[0], str) else ""
    return f"{text} ({e.name})" if text else e.name


def _connect(user: bool) -> tuple:
    """(a connection, whether a bus daemon is between). Root: the system bus, else systemd's private socket (as go-systemd).
    A user: the user's own systemd, on the session bus
    ($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus), else its private
    socket ($XDG_RUNTIME_DIR/systemd/private), as runc's rootless driver."""
    from jeepney.io.blocking import open_dbus_connection
    if user:
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
        if not runtime_dir:
            raise PyruncError("--systemd-cgroup, rootless: the user's systemd is found through "
                              "XDG_RUNTIME_DIR (e.g. /run/user/UID), which is not set")
        bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS") or f"unix:path={runtime_dir}/bus"
        private = f"{runtime_dir}/systemd/private"
        what = "the user's systemd"
    else:
        bus, private, what = f"unix:path={SYSTEM_BUS}", PRIVATE_SOCKET, "systemd"
    try:
        return open_dbus_connection(bus=bus), True
    except (OSError, ValueError) as first:
        if not os.path.exists(private):
            raise PyruncError(f"--systemd-cgroup: cannot reach {what} on its bus "
                              f"({bus}: {first})") from None
    try:
        return _peer_connection(private), False
    except (OSError, ValueError) as e:
        raise PyruncError(f"--systemd-cgroup: cannot reach {what} ({bus}, then "
                          f"{private}: {e})") from None


def _peer_connection(path: str):
    """A connection straight to systemd: no bus daemon, so no Hello (which
    DBusConnection's constructor sends) and no AddMatch (systemd sends its
    signals to every subscribed peer)."""
    from jeepney.io.blocking import DBusConnection, DBusConnectionBase, prep_socket
    from jeepney.io.common import MessageFilters

    class Peer(DBusConnection):
        def __init__(self, sock):
            DBusConnectionBase.__init__(self, sock)
            self._filters = MessageFilters()
            self.unique_name = None

    return Peer(prep_socket(path))
