"""Real Ray processes for the Ray executor tests: nodes started with ``ray start`` on loopback, each in its own temp
dir, and stopped by process id (never ``ray stop``, which would stop every Ray instance of the machine).

Every process of one Ray instance inherits ``RAY_TMPDIR`` from the process that started it, so the processes of a test
are found by that variable in ``/proc/PID/environ``, whatever name Ray gave them."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = [sys.executable, "-m", "ray.scripts.scripts"]


def short_temp_dir() -> str:
    """A fresh, short directory: Ray's socket paths live under it and must stay under ~107 characters."""
    return tempfile.mkdtemp(prefix="eeea-ray-", dir="/tmp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: one token for every node and driver of the test session (Ray's token authentication, on by default in new Rays)
TOKEN = secrets.token_hex(32)


def ray_env(temp_dir: str) -> dict[str, str]:
    """The environment of a Ray process of a test: its temp dir (which also marks its processes) and the token."""
    return {**os.environ, "RAY_TMPDIR": temp_dir, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": TOKEN}


def processes_of(temp_dir: str) -> list[int]:
    """The ids of the live processes started with ``RAY_TMPDIR=temp_dir``."""
    marker = f"RAY_TMPDIR={temp_dir}\0".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def stop_processes(temp_dir: str, grace: float = 5.0) -> None:
    """SIGTERM the processes of ``temp_dir``, then SIGKILL what is left after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of(temp_dir):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while processes_of(temp_dir) and time.time() < deadline:
            time.sleep(0.2)


def start_node(temp_dir: str, *, head_port: int, head: bool, cpus: int = 1) -> None:
    """``ray start`` a head node on 127.0.0.1:head_port, or a worker node joining it; every port picked free."""
    ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port"]
    argv = [*RAY, "start", "--node-ip-address", "127.0.0.1", "--num-cpus", str(cpus), "--num-gpus", "0",
            "--disable-usage-stats", "--temp-dir", temp_dir]
    for flag in ports:
        argv += [flag, str(free_port())]
    if head:
        argv += ["--head", "--port", str(head_port), "--include-dashboard", "false"]
    else:
        argv += ["--address", f"127.0.0.1:{head_port}"]
    done = subprocess.run(argv, env=ray_env(temp_dir), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def assert_same_results(run: Path, reference: Path) -> None:
    """Two search runs evaluated the same genomes with the same results (to the last bit) and wrote the same front."""
    def archive(path: Path) -> dict[str, dict]:
        return {r["key"]: r for r in map(json.loads, (path / "archive.jsonl").read_text().splitlines())}

    a, b = archive(run), archive(reference)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["status"] == b[key]["status"] == "ok", key
        assert a[key]["objectives"] == b[key]["objectives"], key
        assert a[key]["extra"] == b[key]["extra"], key  # train loss to the last bit
        assert a[key]["seed"] == b[key]["seed"], key
    assert (run / "pareto.csv").read_text() == (reference / "pareto.csv").read_text()
    names = [sorted(p.name for p in (path / "genomes").iterdir()) for path in (run, reference)]
    assert names[0] == names[1]
