"""`run`: create + start, then (unless detached) wait and delete (with --keep,
the stopped container stays for `delete`); the container's exit status
becomes ours. A terminal without a console socket is relayed to our own
(runc's foreground mode)."""
import os

from ..foreground import wait
from ..rootless import cgroups_optional
from .create import create
from .delete import delete
from .start import start


def run(args) -> int:
    init = create(args.root, args.container_id, args.bundle, args.pid_file, args.no_pivot,
                  args.preserve_fds, args.console_socket, foreground=not args.detach,
                  optional_cgroups=cgroups_optional(args.rootless),
                  systemd=args.systemd_cgroup)
    if init.console_fd is not None:
        from ..terminal import take_our_size  # feature import (termios)
        take_our_size(init.console_fd)
    try:
        start(args.root, args.container_id)
    except BaseException:
        if init.console_fd is not None:
            os.close(init.console_fd)
        delete(args.root, args.container_id, force=True)
        raise
    if args.detach:
        return 0
    try:
        return wait(init.pid, init.console_fd)
    finally:
        if not args.keep:
            delete(args.root, args.container_id, force=True)
