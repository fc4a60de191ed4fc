"""Real faults around a search: a full disk while a candidate's weights are saved (RLIMIT_FSIZE, not a mock), and a
search process killed with SIGKILL while its pool workers are busy."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch
import yaml

TESTS = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
GENOME = "eeea:" + ";".join(f"{c}=" + ",".join("max_pool_3x3@1" for _ in range(10)) for c in ("normal", "reduce"))

LIMITED = textwrap.dedent("""
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk: writes fail (EFBIG) instead of killing
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from eeea.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _weights_bytes(size: dict) -> int:
    from eeea.genome import Genome
    from eeea.spaces import get_space

    buf = io.BytesIO()
    torch.save(get_space("eeea").build(Genome.from_text(GENOME), **size).state_dict(), buf)
    return len(buf.getvalue())


def test_full_disk_while_saving_a_candidate_stops_the_run_and_resume_retrains_it(tmp_path):
    size = {"channels": 16, "layers": 3}
    limit = _weights_bytes(size) // 3  # room for config, log and archive lines, not for any candidate's weights
    assert limit > 20_000
    config = {"task": "fault_tasks:FaultTask", "task_config": {"marker_dir": str(tmp_path)}, "checkpoints": True,
              "population": 4, "generations": 0, "workers": 1, "device": "cpu", "size": size, "threads": 1,
              "measure_latency": False}  # timing the front's ONNX at the evaluation size takes minutes, off topic
    cfg = tmp_path / "search.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    first = subprocess.run([sys.executable, "-c", LIMITED, str(limit), "search", "--out", str(out), "--config",
                            str(cfg), "--quiet"], capture_output=True, text=True, env=ENV, timeout=300)
    assert first.returncode == 2, first.stderr
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eeea: error: cannot save the weights of candidate"), first.stderr
    archive = out / "archive.jsonl"
    assert not archive.exists() or archive.read_text() == ""  # nothing recorded as crashed or ok without weights
    assert not list(out.rglob("*.tmp")) and not list(out.rglob("weights.pt"))  # no truncated weights left

    resumed = subprocess.run([sys.executable, "-m", "eeea.cli", "search", "--resume", str(out), "--task",
                              "fault_tasks:FaultTask", "--quiet"], capture_output=True, text=True, env=ENV, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in archive.read_text().splitlines()]
    assert len(records) == 4 and all(r["status"] == "ok" and r.get("checkpoint") for r in records)
    assert all((out / r["checkpoint"] / "weights.pt").stat().st_size > limit for r in records)


POOL = textwrap.dedent("""
    import sys
    from eeea.search.executors import Job, PoolExecutor, _run_job
    genome, marker = sys.argv[1], sys.argv[2]
    pool = PoolExecutor(2, "fault_tasks:FaultTask", {"marker_dir": marker, "sleep": 300}, "eeea", "cpu")
    jobs = [Job(f"{s:016x}", genome, s, {"channels": 4, "layers": 3}, {}) for s in (1, 2)]
    futures = [pool.pool.submit(_run_job, job) for job in jobs]  # each submit starts a worker
    started = {pool.started.get() for _ in jobs}  # both workers are up and busy with a candidate
    print(" ".join(str(p) for p in pool.pool._processes), flush=True)
    futures[0].result()
""")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited; only its entry waits for a parent to reap it


def test_pool_workers_exit_when_the_search_process_is_killed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", POOL, GENOME, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env=ENV)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "pool workers outlived the killed search"
    finally:
        if proc.poll() is None:
            proc.kill()
