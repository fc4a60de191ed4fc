"""The Ray executor on a real local Ray instance (one for the module, as a notebook would share its own): the same
results as the in-process executor, checkpoints that travel back through the object store, a killed actor's candidate
retried, a candidate that kills every actor recorded alone, a task that cannot prepare ending the run in one line."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import pytest
import torch
from search_helpers import TINY_FLAGS

from fault_tasks import FaultTask
from ray_helpers import assert_same_results, short_temp_dir, stop_processes

from eeea.checkpoint import load_checkpoint
from eeea.cli import main
from eeea.search.executors import Job, LocalExecutor

ray = pytest.importorskip("ray", reason="the Ray executor tests need Ray: pip install 'eeea[ray]'")
from eeea.search.ray_executor import RayExecutor  # noqa: E402 (after the skip)

torch.set_num_threads(1)
GENOME = "eeea:" + ";".join(f"{c}=" + ",".join("max_pool_3x3@1" for _ in range(10)) for c in ("normal", "reduce"))
SIZE = {"channels": 4, "layers": 3}
TASK = f"{FaultTask.__module__}:FaultTask"


@pytest.fixture(scope="module")
def local_ray():
    temp = short_temp_dir()
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = temp  # marks every process of this Ray instance (see ray_helpers)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = before
        stop_processes(temp)
        shutil.rmtree(temp, ignore_errors=True)


def _jobs(*seeds: int, checkpoints=None) -> list[Job]:
    return [Job(f"{s:016x}", GENOME, s, SIZE, {"batch_size": 32},
                None if checkpoints is None else str(checkpoints / f"{s:016x}")) for s in seeds]


def _ray(tmp_path, threads=None, **faults) -> RayExecutor:
    return RayExecutor(2, TASK, {"marker_dir": str(tmp_path), **faults}, "eeea", "cpu", threads)


def test_a_ray_search_equals_the_in_process_search(local_ray, tiny_reference, tmp_path):
    out = tmp_path / "ray"
    assert main(["search", "--out", str(out), *TINY_FLAGS, "--executor", "ray", "--workers", "2"]) == 0
    assert_same_results(out, tiny_reference)


def test_checkpoints_travel_back_and_equal_the_in_process_ones(local_ray, tmp_path):
    local = LocalExecutor(TASK, {"marker_dir": str(tmp_path)}, "eeea", "cpu", 2)
    (r_local,) = local.map(_jobs(3, checkpoints=tmp_path / "local"))
    executor = _ray(tmp_path, threads=2)
    try:
        (r_ray,) = executor.map(_jobs(3, checkpoints=tmp_path / "ray"))
    finally:
        executor.close()
    assert r_ray["objectives"] == r_local["objectives"] and r_ray["extra"] == r_local["extra"]
    assert r_ray["extra"]["threads"] == 2  # the thread count the driver resolved, not the actor's CPU share
    key = f"{3:016x}"
    a, b = tmp_path / "local" / key, tmp_path / "ray" / key
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir()) == ["genome.yaml", "weights.pt"]
    assert (a / "genome.yaml").read_text() == (b / "genome.yaml").read_text()
    (ga, _, ma), (gb, _, mb) = load_checkpoint(a), load_checkpoint(b)
    assert ga.key == gb.key and all(torch.equal(x, y) for x, y in zip(ma.state_dict().values(),
                                                                       mb.state_dict().values()))


def test_a_killed_ray_worker_has_its_candidate_retried_and_ok(local_ray, tmp_path):
    executor = _ray(tmp_path, kill_once=[11])
    try:
        results = {r["key"]: r for r in executor.map(_jobs(10, 11, 12, 13, checkpoints=tmp_path / "ck"))}
    finally:
        executor.close()
    assert (tmp_path / "killed-11").exists()  # the actor's process really died in the middle of candidate 11
    assert sorted(results) == [f"{s:016x}" for s in (10, 11, 12, 13)]
    for seed in (10, 11, 12, 13):
        r = results[f"{seed:016x}"]
        assert r["status"] == "ok" and r["objectives"] == {"error": (seed % 997) / 997}, r
        assert load_checkpoint(tmp_path / "ck" / f"{seed:016x}")[0].to_text() == GENOME


def test_a_candidate_that_kills_every_ray_worker_is_crashed_and_only_it(local_ray, tmp_path):
    executor = _ray(tmp_path, kill_always=[21], sleep=0.3)
    try:
        results = {r["key"]: r for r in executor.map(_jobs(20, 21, 22, 24))}
        assert [r["status"] for r in executor.map(_jobs(23))] == ["ok"]  # the pool was refilled
    finally:
        executor.close()
    bad = results[f"{21:016x}"]
    assert bad["status"] == "crashed" and bad["objectives"] == {"error": 1.0} and "worker process died" in bad["note"]
    assert all(results[f"{s:016x}"]["status"] == "ok" for s in (20, 22, 24))


def test_a_task_that_cannot_prepare_ends_the_run_in_one_line(local_ray, tmp_path, capsys):
    config = tmp_path / "search.yaml"
    config.write_text(f"task: '{TASK}'\ntask_config: {{marker_dir: '{tmp_path}', fail_prepare: 'no data at /nowhere'}}"
                      "\nsize: {channels: 4, layers: 3}\ndevice: cpu\n")
    argv = ["search", "--config", str(config), "--out", str(tmp_path / "run"), "--executor", "ray", "--workers", "2",
            "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "eeea: error: no data at /nowhere\n"
    assert 1 <= len(list(tmp_path.glob("prepare-*"))) <= 2  # each actor tried once: no respawn loop


def test_bad_ray_options_are_one_line(local_ray, tmp_path, capsys):
    base = ["search", "--out", str(tmp_path / "run"), *TINY_FLAGS, "--executor", "ray"]
    for extra, message in ((["--gpus-per-candidate", "0.5"], "the Ray cluster has 0 GPUs"),
                           (["--cpus-per-candidate", "0"], "--cpus-per-candidate: must be a number > 0"),
                           (["--cpus-per-candidate", "64"], "no node of the Ray cluster has 64 CPUs"),
                           (["--executor", "local", "--workers", "2"], "--executor local trains one candidate")):
        assert main([*base, *extra, "--force"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_without_ray_the_executor_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['ray'] = None\nfrom eeea.cli import main\n"
            f"sys.exit(main(['search', '--out', {str(tmp_path / 'run')!r}, '--executor', 'ray']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "pip install 'eeea[ray]'" in done.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was made
