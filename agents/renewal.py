"""A process that renews itself: `govpulse up` executes itself again, keeping its process id and listening socket.

Used when the embedded broker must be renewed (agents/services/broker_watch.py).
The listening socket is handed over the way systemd's socket activation hands
one to a service (LISTEN_PID, LISTEN_FDS, the socket at descriptor 3), so the
same code takes a socket from systemd: a connection made while the process
restarts waits in the socket's queue and is answered by the new process.
"""

from __future__ import annotations

import os
import socket
import sys

import structlog

log = structlog.get_logger(__name__)

#: The first descriptor systemd (and a renewal) passes.
LISTEN_FDS_START = 3


def inherited_listener() -> socket.socket | None:
    """The listening socket handed to this process (systemd or a renewal), or None; taken once."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or int(os.environ.get("LISTEN_FDS", "0") or 0) < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # not for the children this process starts
    sock = socket.socket(fileno=LISTEN_FDS_START)
    os.set_inheritable(sock.fileno(), False)
    return sock


def renew(listen_fd: int | None) -> None:
    """Execute this process again with the same arguments; `listen_fd` (a listening socket) is handed over.

    Does not return.
    """
    env = dict(os.environ)
    if listen_fd is not None:
        if listen_fd != LISTEN_FDS_START:
            os.dup2(listen_fd, LISTEN_FDS_START)
        os.set_inheritable(LISTEN_FDS_START, True)
        env.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
    log.warning("process_renewing", pid=os.getpid())
    sys.stdout.flush()
    sys.stderr.flush()
    # The interpreter and the arguments this process was started with, not user input.
    os.execve(sys.executable, sys.orig_argv, env)  # noqa: S606 - no shell: the same argv runs again
