"""The facts a report states about a run: its sessions (start, resumes, how each ended, on which machine with which
versions), its settings, its data and split, and the latency table it used.

The running search records each session in ``sessions.json`` of the run directory (the machine and versions are
those of the process that searched, not of whoever writes a report later); a run from before that file existed shows
what its config and state say.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import UserError
from ..files import parse_json, read_text
from ..ledger import Ledger, record_ahead
from ..atomic import atomic_write
from ..rundir import CONFIG, LOCK
from ..search.archive import SESSIONS

#: packages whose versions a session records, when the search loaded them (what its results depend on)
PACKAGES = ("torch", "numpy", "pymoo", "onnxruntime", "scipy", "ray")


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z")


def machine() -> dict[str, Any]:
    """This machine: host, OS, CPU, cores, memory and, when torch is loaded and sees one, the GPU."""
    from ..latency import _cpu_name

    facts: dict[str, Any] = {"host": platform.node(), "system": f"{platform.system()} {platform.release()}",
                             "cpu": f"{platform.machine()}, {_cpu_name()}", "cores": os.cpu_count()}
    try:
        facts["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    torch = sys.modules.get("torch")  # never imported for this: a search has it loaded already
    if torch is not None and torch.cuda.is_available():
        facts["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return facts


def versions() -> dict[str, str]:
    """eeea's, Python's and those of the packages this process has loaded (those the search used)."""
    from ..version import __version__

    found = {"eeea": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        module = sys.modules.get(name)
        if module is None:
            continue
        found[name] = str(getattr(module, "__version__", "") or "")
        if not found[name]:
            try:
                found[name] = version(name)
            except PackageNotFoundError:
                del found[name]
    return found


def read_sessions(run_path: Path) -> tuple[list[dict[str, Any]], str]:
    """``(sessions, note)``: the sessions a run recorded ([] for a run from before they were recorded); a damaged
    file gives [] and a note saying so (it only feeds the report)."""
    path = run_path / SESSIONS
    if not path.is_file():
        return [], ""
    try:
        data = parse_json(read_text(path), str(path))
    except UserError as e:
        return [], f"sessions not shown: {e}"
    sessions = data.get("sessions") if isinstance(data, dict) else None
    if not isinstance(sessions, list) or not all(isinstance(s, dict) for s in sessions):
        return [], f"sessions not shown: {path} is not a sessions file"
    return sessions, ""


def write_sessions(run_path: Path, sessions: Sequence[Mapping[str, Any]]) -> None:
    """sessions.json, atomically but without fsync: it only feeds the report, and is written twice per session
    within the report's share of a search's time."""
    text = json.dumps({"sessions": list(sessions)}, indent=1, default=str) + "\n"
    atomic_write(run_path / SESSIONS, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable=False,
                 before_replace=lambda tmp: record_ahead(Ledger(run_path), SESSIONS, tmp))  # eeea's: --force removes it


def start_session(run_path: Path, resumed: bool, evaluations: int, notes: Sequence[str],
                  latency_table: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Record a new session (this process) in sessions.json; returns every session."""
    sessions, _ = read_sessions(run_path)
    sessions.append({"started": now(), "kind": "resume" if resumed else "start", "pid": os.getpid(),
                     "command": " ".join(sys.argv), "evaluations_at_start": evaluations, "notes": list(notes),
                     "latency_table": dict(latency_table) if latency_table else None,
                     "machine": machine(), "versions": versions()})
    write_sessions(run_path, sessions)
    return sessions


def finish_session(run_path: Path, sessions: list[dict[str, Any]]) -> None:
    """Mark this process's session finished (a killed one keeps no end: the report calls it interrupted)."""
    if sessions:
        sessions[-1].update({"ended": now(), "outcome": "finished"})
        write_sessions(run_path, sessions)


def holder_alive(run_path: Path) -> bool:
    """Whether the process that last locked the run is still alive (a search in progress). Reads the pid the lock
    file holds instead of trying the lock, which could make a resume starting at that moment fail."""
    try:
        pid = int((run_path / LOCK).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:  # a reused pid belongs to another program
        return not cmdline.exists() or b"eeea" in cmdline.read_bytes()
    except OSError:
        return True


def status_of(state: Mapping[str, Any], records: Sequence[Any], sessions: Sequence[Any],
              running: bool) -> str:
    """finished, running, interrupted (it stopped before finishing) or not started (nothing of it recorded)."""
    if state.get("finished"):
        return "finished"
    if running:
        return "running"
    return "interrupted" if records or state or sessions else "not started"


def session_rows(sessions: Sequence[Mapping[str, Any]], status: str) -> list[dict[str, Any]]:
    """One row per session: when it started, how it ended (finished, interrupted, running), where it ran."""
    rows = []
    for i, s in enumerate(sessions):
        last = i == len(sessions) - 1
        outcome = s.get("outcome") or ("running" if last and status == "running" else "interrupted (no end recorded)")
        m = s.get("machine", {})
        rows.append({"started": s.get("started", ""), "kind": s.get("kind", ""), "ended": s.get("ended", ""),
                     "outcome": outcome, "evaluations_at_start": s.get("evaluations_at_start"),
                     "host": m.get("host", ""), "command": s.get("command", "")})
    return rows


def run_facts(run_path: Path, config: Mapping[str, Any], sessions: Sequence[Mapping[str, Any]], status: str,
              objectives: Sequence[str]) -> dict[str, Any]:
    """Everything the page's run-facts section shows, as plain data."""
    budget = {k: config.get(k) for k in ("max_params", "max_macs", "max_latency", "max_model_bytes")
              if config.get(k) is not None}
    settings = {"task": config.get("task"), "space": config.get("space"), "seed": config.get("seed"),
                "objectives": ", ".join(objectives) or "(none yet)", "algorithm": config.get("algorithm"),
                "population": config.get("population"), "generations": config.get("generations"),
                "max evaluations": config.get("max_evaluations"), "EE-PI budget": budget or "none",
                "EE-PI scope": config.get("eepi_scope"), "training budget": config.get("train"),
                "executor": f"{config.get('executor') or 'default'}, {config.get('workers')} worker(s), device "
                            f"{config.get('device')}"}
    data = {"data": config.get("data") or "(the task's embedded data)", "task options": config.get("task_config")}
    last = sessions[-1] if sessions else {}
    split = [n for s in sessions[-1:] for n in s.get("notes", [])]
    table = last.get("latency_table") or ({"file": config["latency_table"]} if config.get("latency_table") else None)
    return {"status": status, "settings": settings, "data": data, "split": split,
            "latency_table": table, "machine": last.get("machine"), "versions": last.get("versions"),
            "sessions": session_rows(sessions, status),
            "config": read_text(run_path / CONFIG)}
