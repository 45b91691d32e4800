"""The one exception type the CLI turns into a one-line error and an exit status
(1, or the command's own: exec's failures are 255, as runc's)."""
import os


class PyruncError(Exception):
    """A user-facing failure: the message is shown as is, without a traceback."""
    exit_code = 1


class ContainerNotExist(PyruncError):
    def __init__(self, container_id: str = ""):
        # containerd and podman match on this text.
        super().__init__("container does not exist")
        self.container_id = container_id


class ConfigError(PyruncError):
    """Bad config.json: the message names the JSON pointer of the field."""

    def __init__(self, pointer: str, problem: str, file: str = "config.json"):
        where = f"{file}: {pointer}: " if pointer else f"{file}: "
        super().__init__(where + problem)
        self.pointer = pointer
        self.problem = problem


def strerror(err: "int | OSError") -> str:
    """errno text as Go programs print it ("no such file or directory"):
    clients match on it. The one way pyrunc words an errno. An OSError
    without an errno (raised by Python itself) gives its own text."""
    if isinstance(err, OSError):
        if not err.errno:
            return str(err)
        err = err.errno
    text = os.strerror(err)
    return text[:1].lower() + text[1:]
