"""What the search's report costs: its share of a tabular search's time, and seconds per round on a trained task.

* Tabular: NAS-Bench-201 searches of 500 evaluations (population 20), one per seed. The time spent inside the
  report (session record, every page write, the final write) against the whole ``eeea search`` command (what the user
  waits for), and, run in this process, against the search loop alone (wall and CPU seconds). Target: <= 2 % of the
  search's time. Also timed: the same searches with every round written (no time-share limit), to show what one
  write costs.
* Trained: the report of a 1,000-candidate speech-emotion run (mobilenet_audio genomes drawn by EE-PI at the default
  72k budget, counted and described as in a search; scores made up, since training them would take days and the
  report's cost does not depend on them), rewritten after every round of 10 candidates, and once from scratch as a
  resumed search's first write does. Targets: <= 1 s per round; the file <= 5 MB.
* Once-only costs, per user (kept in ``$EEEA_CACHE``): packing plotly.js, and the true front of the NAS-Bench-201
  table that ``eeea report`` computes as the ceiling.

    python benchmarks/bench_report.py [--seeds 5] [--candidates 1000] [--data DATA/nasbench201.csv]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _results import record  # noqa: E402

BENCH = "bench_report"


class Timed:
    """Wall and CPU seconds spent inside the report's hooks (patched onto eeea.report.build.SearchReport)."""

    def __init__(self) -> None:
        from eeea.report import build

        self.wall = self.cpu = 0.0
        self.cls = build.SearchReport
        self.originals = {name: getattr(self.cls, name) for name in ("__init__", "round", "finish")}
        for name, method in self.originals.items():
            setattr(self.cls, name, self._wrap(method))

    def _wrap(self, method):
        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - wall
                self.cpu += time.thread_time() - cpu

        return timed

    def restore(self) -> None:
        for name, method in self.originals.items():
            setattr(self.cls, name, method)


def _written(log: str) -> tuple[int, float]:
    """(writes, seconds) of the report, from the search's log."""
    line = next(x for x in log.splitlines() if "report.html written " in x)
    writes, rest = line.split("report.html written ")[1].split(" time(s) in ")
    return int(writes), float(rest.split("s")[0])


def command_share(data: str, seeds: int, root: Path) -> dict[str, float]:
    """The report's seconds (its own account, in the log) over the wall time of the whole ``eeea search`` command
    (the user's wait: start-up and table loading included), median over seeds."""
    shares, walls = [], []
    for seed in range(seeds):
        out = root / f"command-{seed}"
        argv = [sys.executable, "-m", "eeea.cli", "search", "--task", "nb201", "--data", data, "--population", "20",
                "--generations", "30", "--max-evaluations", "500", "--seed", str(seed), "--out", str(out), "--quiet"]
        wall = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - wall
        shares.append(_written((out / "log.txt").read_text())[1] / wall)
        walls.append(wall)
    return {"share": statistics.median(shares), "wall": statistics.median(walls)}


def tabular(data: str, seeds: int, share: float | None, root: Path) -> dict[str, float]:
    """Median share of the report in nb201 searches of 500 evaluations run in this process (the search loop's time,
    without start-up), timed around the report's hooks (``share``: the report's time limit)."""
    from eeea.report import build
    from eeea.search.archive import SearchRun
    from eeea.search.config import resolve_config
    from eeea.search.loop import search

    limit = build.MAX_SHARE
    shares, walls, cpus, report_walls, writes = [], [], [], [], []
    for seed in range(seeds):
        config = resolve_config({"task": "nb201", "data": data, "population": 20, "generations": 30,
                                 "max_evaluations": 500, "seed": seed})
        out = root / f"nb201-{share}-{seed}"
        timer = Timed()
        if share is not None:
            build.MAX_SHARE = share
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            search(config, out, quiet=True)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            timer.restore()
            build.MAX_SHARE = limit
        assert len(SearchRun.read(out).read_archive()) == 500
        writes.append(_written((out / "log.txt").read_text())[0])
        shares.append(timer.wall / wall)
        walls.append(wall)
        cpus.append(timer.cpu / cpu)
        report_walls.append(timer.wall)
    return {"share": statistics.median(shares), "cpu_share": statistics.median(cpus), "wall": statistics.median(walls),
            "report": statistics.median(report_walls), "writes": statistics.median(writes),
            "per_write": statistics.median(r / w for r, w in zip(report_walls, writes))}


def trained(candidates: int, root: Path) -> dict[str, float]:
    """Seconds per round of a report of ``candidates`` SER candidates in rounds of 10, and of one write from
    scratch; the file's size."""
    from eeea.report import build
    from eeea.search.archive import SearchRun
    from eeea.search.config import resolve_config
    from eeea.search.eepi import EEPI
    from eeea.spaces import get_space

    config = resolve_config({"task": "ser"})
    space = get_space(config["space"])
    eepi = EEPI(space, config["max_params"], config["max_macs"])
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    records = []
    for i in range(candidates):
        genome = space.decode(eepi.draw(rng, seen))
        seen.add(genome.key)
        status = "ok" if i % 50 else "diverged"
        dims = {f"ccc_{d}": float(rng.uniform(0, 0.7)) for d in ("arousal", "dominance", "valence")}
        score = 1 - float(np.mean(list(dims.values()))) if status == "ok" else 2.0
        params, macs = eepi.params(genome), eepi.macs(genome)
        records.append({"key": genome.key, "genome": genome.to_text(), "generation": i // 10, "status": status,
                        "objectives": {"1-ccc": score, "params": params, "macs": macs}, "params": params,
                        "macs": macs, "extra": {**dims, "ccc": 1 - score} if status == "ok" else {},
                        "seconds": float(rng.uniform(20, 90)), "seed": int(rng.integers(2**31)),
                        "checkpoint": f"checkpoints/{genome.key}"})
    run = SearchRun.create(root / "ser", config)
    log = run.logger()
    report = build.SearchReport(run, config, log, resumed=False, evaluations=0, notes=["synthetic records"])
    per_round = []
    for end in range(10, candidates + 1, 10):
        state = {"generation": end // 10 - 1, "generations": candidates // 10 - 1, "evaluations": end,
                 "eepi": eepi.stats.to_dict(), "finished": False}
        start = time.perf_counter()
        report._write(records[:end], state, "running")
        per_round.append(time.perf_counter() - start)
    fresh = build.SearchReport(run, config, log, resumed=True, evaluations=candidates, notes=[])
    start = time.perf_counter()
    fresh._write(records, state, "running")  # a resumed search's first write: every row built anew
    scratch = time.perf_counter() - start
    run.close_logger()
    run.unlock()
    return {"median": statistics.median(per_round), "max": max(per_round), "scratch": scratch,
            "mb": (run.path / "report.html").stat().st_size / 2**20}


def once_only(data: str, root: Path) -> dict[str, float]:
    """Packing plotly.js and the NAS-Bench-201 true front, in an empty cache."""
    from eeea.report import page
    from eeea.report.ceiling import true_front
    from eeea.search.config import resolve_config

    os.environ["EEEA_CACHE"] = str(root / "cold-cache")
    start = time.perf_counter()
    page.plotly_packed()
    plotly = time.perf_counter() - start
    config = resolve_config({"task": "nb201", "data": data})
    start = time.perf_counter()
    assert true_front(config, ["error", "params"], compute=True) is not None
    return {"plotly": plotly, "front": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--data", default=None, help="nasbench201.csv (default: the shared data folder's)")
    parser.add_argument("--no-record", action="store_true", help="print only, do not write RESULTS.md")
    args = parser.parse_args()
    from shared_data import shared_folder

    data = args.data or str(shared_folder() / "data" / "nasbench201.csv")
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="eeea-bench-report-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("EEEA_CACHE", str(root / "cache"))
        from eeea.report import page
        from eeea.report.ceiling import true_front  # noqa: F401 - imported before timing

        page.page_parts()  # the page's plotly packed once, as any earlier search on the machine did
        load0 = os.getloadavg()[0]
        command = command_share(data, args.seeds, root)
        limited = tabular(data, args.seeds, None, root)
        every = tabular(data, args.seeds, float("inf"), root)
        trained_figures = trained(args.candidates, root)
        cold = once_only(data, root)
        load1 = os.getloadavg()[0]
    invocation = f"python benchmarks/bench_report.py --seeds {args.seeds} --candidates {args.candidates}"
    load = f"load average {load0:.1f} -> {load1:.1f} (machine shared)"
    figures = [
        (f"nb201 search, 500 evaluations: report's share of the eeea search command's wall time, median of "
         f"{args.seeds} seeds", f"{command['share']:.2%} (of {command['wall']:.2f} s; {load})", "<= 2 %"),
        (f"nb201 search, 500 evaluations: report's share of the search loop alone (no start-up), median of "
         f"{args.seeds} seeds", f"{limited['share']:.2%} ({limited['report']:.3f} s of {limited['wall']:.2f} s; "
         f"CPU share {limited['cpu_share']:.2%})", "<= 2 %"),
        ("nb201 search: rounds whose report was written (of 25), median",
         f"{limited['writes']:.0f} (the last, and others while under 0.5 % of the time)", "-"),
        ("nb201 search, every round written (no share limit): report's share, median",
         f"{every['share']:.2%} ({every['writes']:.0f} writes, {every['per_write'] * 1e3:.0f} ms each)",
         "- (why the share limit)"),
        (f"trained task (SER, {args.candidates} candidates, rounds of 10): seconds per round, median / max",
         f"{trained_figures['median']:.3f} / {trained_figures['max']:.3f}", "<= 1 s"),
        (f"trained task: first write of a resumed {args.candidates}-candidate run (every row built), s",
         f"{trained_figures['scratch']:.3f}", "<= 1 s"),
        (f"report size at {args.candidates} candidates, MB", f"{trained_figures['mb']:.2f}", "<= 5"),
        ("once per user: plotly.js packed into the cache, s", f"{cold['plotly']:.2f}", "-"),
        ("once per table: NAS-Bench-201's true front (eeea report's ceiling), s", f"{cold['front']:.2f}", "-"),
    ]
    for figure, value, target in figures:
        if args.no_record:
            print(f"{BENCH}: {figure} = {value} (target {target})")
        else:
            record(BENCH, figure, value, target, invocation)


if __name__ == "__main__":
    main()
