"""Every GPU figure of eeea in one command of at most 8 minutes on one H200: run it on any machine with a CUDA GPU.

Parts (``--only a,c`` selects; they run in the order a, c, e, b, d1, c-compile, d2, cheapest-to-lose last):

a. one paper-size search candidate: 1 epoch of 45k CIFAR-10 JPEG (``--data``), C=16, 8 cells, batch 128, cutout,
   auxiliary, scored on the 5k held out, fp32 and with the search's CUDA default levers (bf16 + channels_last).
   The original release takes 21.8 s on an H200.
b. candidates per minute with 1, 2, 4, 8 candidates at once on the GPU (the search's executors: in-process for 1, a
   pool of worker processes otherwise), each a paper-size candidate as in (a), after one short warm-up job per worker.
   This measures ``GPU_WORKERS`` (eeea/search/config.py).
c. ``eeea_c`` final-training img/s at the paper size (C=36, 20 cells, batch 96, aux, drop-path) for fp32, bf16,
   bf16+channels_last (benchmarks/bench_train.py's code), and bf16+channels_last+``torch.compile(mode=
   "reduce-overhead")`` (CUDA graphs) in a subprocess with a time cap (its compile time is unknown). The original
   release does 623 img/s; the target is >= 2,500.
d. wall time of the default SER search (d1) and of ``configs/search/ser_72k.yaml`` (d2) through the CLI, each under a
   time cap: a capped run reports how many candidates it finished (d2 is expected to need longer than its cap).
e. a tiny ``eeea search --task cifar10`` and ``eeea train --recipe fast`` with ``--device cuda`` through the CLI.

Every figure is printed as it is measured (flushed: a timeout still leaves the first ones) and appended to
``OUT/figures.jsonl`` and ``OUT/figures.csv`` (``--out OUT``; default ``$OUT`` when set, else ``runs/gpu_suite``).
A figure has a part, a name, a value, a unit, the reference it compares with and a note. Each part has a time budget
and is skipped (saying so) when the suite's ``--budget`` (default 480 s) would be overrun. Nothing is installed here.

Run it on the GPU machine, in a checkout with eeea's dependencies installed::

    python benchmarks/gpu_suite.py --device cuda --data PATH

where PATH is a CIFAR-10 zip of images such as ``cifar10-train.zip`` (parts a and b; the others use the embedded
data). ``--only a,b,c`` and ``--only d,e`` split the suite into two shorter runs. Record a run's figures in
benchmarks/RESULTS.md with ``python benchmarks/gpu_suite.py --record-from OUT/figures.jsonl``; ``--device cpu --smoke``
runs the same code in seconds on tiny inputs (the tests run it).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # eeea from this checkout even where it is not installed

from eeea.data.cifar import CIFAR_MEAN, CIFAR_STD, embedded_subset_path, load_cifar  # noqa: E402
from eeea.data.device import DeviceImages  # noqa: E402
from eeea.runtime import resolve_device, resolve_levers  # noqa: E402
from eeea.search.config import GPU_WORKERS  # noqa: E402
from eeea.search.executor_choice import make_executor  # noqa: E402
from eeea.search.executors import Evaluator, Job, candidate_seed  # noqa: E402
from eeea.spaces import get_space  # noqa: E402

from _results import record  # noqa: E402
from bench_train import time_lever  # noqa: E402

PARTS = ("a", "b", "c", "d", "e")
ORDER = ("a", "c", "e", "b", "d1", "c-compile", "d2")  # the run order: what matters most and costs least first
#: seconds each part may take on an H200 (together 470 s within the 480 s budget); a part is skipped when less is left
BUDGET = {"a": 75, "c": 45, "e": 45, "b": 150, "d1": 60, "c-compile": 90, "d2": 60}
WORKER_COUNTS = (1, 2, 4, 8)
CANDIDATE = {"channels": 16, "layers": 8, "num_classes": 10, "auxiliary": True}  # the paper's search size
SMOKE_CANDIDATE = {"channels": 4, "layers": 3, "num_classes": 10, "auxiliary": True}
SMOKE_IMAGES = 20  # per class, copied (not decoded) from the embedded subset: every part's smoke data


def smoke_data(out: Path) -> Path:
    """A 200-image CIFAR-10 zip (the first images of each class of the embedded subset) for the smoke run."""
    path = out / "smoke-cifar10.zip"
    with zipfile.ZipFile(embedded_subset_path()) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            if name.endswith(".jpg") and int(Path(name).stem) < SMOKE_IMAGES:
                dst.writestr(name, src.read(name))
    return path


class Suite:
    """Runs the parts, keeps time and writes each figure as it comes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.smoke = args, args.smoke
        self.device = resolve_device(args.device)
        self.cuda = self.device.type == "cuda"
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        # run directories and the smoke data go elsewhere: OUT holds the figures only
        self.work = Path(tempfile.mkdtemp(prefix="gpu_suite-"))
        self.start = time.perf_counter()
        self.rows: list[dict[str, Any]] = []
        self.where = f"{torch.cuda.get_device_name(self.device) if self.cuda else 'CPU'}, torch {torch.__version__}"
        self.candidate = SMOKE_CANDIDATE if self.smoke else CANDIDATE
        # the candidates' budget: the paper's proxy (1 epoch, batch 128, cutout 16, aux 0.4) or one tiny step
        self.budget: dict[str, Any] = {"batch_size": 16, "max_steps": 1, "eval_batch_size": 100} if self.smoke \
            else {"batch_size": 128}
        self.data = args.data
        if self.smoke:
            torch.set_num_threads(1)  # subprocesses and pool workers use one thread each too (candidate_threads)
            self.data = args.data or str(smoke_data(self.work))
        self.task_config: dict[str, Any] = {"data": self.data} if self.data else {}
        for name in ("figures.jsonl", "figures.csv"):
            (self.out / name).unlink(missing_ok=True)
        self.emit("-", "suite", self.where, "", "", f"smoke={self.smoke} command: {args.command}")

    def left(self) -> float:
        return self.args.budget - (time.perf_counter() - self.start)

    def cap(self, step: str, rest: bool = False) -> float:
        """Seconds a subprocess of ``step`` may run: its budget (``rest``: all that is left), within the suite's.
        The smoke run has no caps that matter (a loaded CPU is slow): only the test's own time limit."""
        if self.smoke:
            return 600.0
        return max(10.0, (self.left() if rest else min(BUDGET[step], self.left())) - 5)

    def emit(self, part: str, figure: str, value: Any, unit: str, reference: str = "", note: str = "") -> None:
        row = {"part": part, "figure": figure, "value": value, "unit": unit, "reference": reference, "note": note,
               "at_s": round(time.perf_counter() - self.start, 1)}
        self.rows.append(row)
        print(f"[{row['at_s']:6.1f} s] {part} {figure}: {value} {unit}" + (f"  (ref {reference})" if reference else "")
              + (f"  {note}" if note else ""), flush=True)
        with (self.out / "figures.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        new = not (self.out / "figures.csv").exists()
        with (self.out / "figures.csv").open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def run(self, parts: set[str]) -> None:
        steps: dict[str, Callable[[], None]] = {"a": self.part_a, "b": self.part_b, "c": self.part_c,
                                                "c-compile": self.part_c_compile, "d1": self.part_d1,
                                                "d2": self.part_d2, "e": self.part_e}
        for step in ORDER:
            if step[0] not in parts:
                continue
            if not self.smoke and self.left() < BUDGET[step] * 0.5:  # a part may start with half its budget left
                self.emit(step, "skipped", "-", "", "", f"{self.left():.0f} s of the suite's budget left")
                continue
            t = time.perf_counter()
            try:
                steps[step]()
            except Exception as e:  # one broken part must not cost the others their figures
                self.emit(step, "failed", "-", "", "", f"{type(e).__name__}: {str(e)[-300:]}")
            self.emit(step, "part wall time", round(time.perf_counter() - t, 1), "s", f"budget {BUDGET[step]} s")
        self.emit("-", "suite wall time", round(time.perf_counter() - self.start, 1), "s", "<= 480 s")

    # -- parts ---------------------------------------------------------------------------------------------------
    def _jobs(self, n: int, offset: int, budget: dict[str, Any] | None = None) -> list[Job]:
        space = get_space("eeea")
        jobs = []
        for i in range(offset, offset + n):
            g = space.random_genome(np.random.default_rng(i))
            jobs.append(Job(g.key, g.to_text(), candidate_seed(0, g.key), self.candidate, budget or self.budget))
        return jobs

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def part_a(self) -> None:
        t = time.perf_counter()
        ev = Evaluator("cifar10", self.task_config, "eeea", str(self.device), None, {"amp": "none",
                                                                                       "channels_last": False})
        self.emit("a", "data load + upload", round(time.perf_counter() - t, 2), "s", "",
                  f"{len(ev.task.train_set)} train / {len(ev.task.val_set)} held out")
        first, second, third = self._jobs(3, 0)
        cuda_levers = resolve_levers("auto", None, False, torch.device("cuda"))  # the search's CUDA default
        runs = [("fp32, first (warm-up)", first, ev.levers), ("fp32", second, ev.levers),
                (cuda_levers.describe(), second, cuda_levers),
                (cuda_levers.describe() + ", another genome", third, cuda_levers)]
        for label, job, levers in runs[1:3] if self.smoke else runs:
            ev.levers = levers
            self._sync()
            t = time.perf_counter()
            result = ev.evaluate(job)
            self._sync()
            self.emit("a", f"one search candidate, {label}", round(time.perf_counter() - t, 2), "s",
                      "release 21.8 s fp32 on an H200", f"{result['status']}, error "
                      f"{result['objectives']['error']:.3f}, {_size(self.candidate)}")

    def part_b(self) -> None:
        levers = {"amp": "auto", "channels_last": None, "compile": False}
        counts = (2,) if self.smoke else WORKER_COUNTS
        for workers in counts:
            if not self.smoke and self.left() < 15 + 5 * workers:
                self.emit("b", f"{workers} at once", "skipped", "", "", f"{self.left():.0f} s left")
                continue
            t = time.perf_counter()
            ex = make_executor(workers, "cifar10", self.task_config, "eeea", str(self.device), None, levers=levers)
            try:
                warm = self._jobs(workers, 1000 * workers, {**self.budget, "max_steps": 2})
                list(ex.map(warm))  # each worker prepares its data and warms up before the clock starts
                start_s = time.perf_counter() - t
                jobs = self._jobs(workers * self.args.rounds, 100 * workers)
                t = time.perf_counter()
                results = list(ex.map(jobs))
                seconds = time.perf_counter() - t
            finally:
                ex.close()
            ok = sum(r["status"] == "ok" for r in results)
            self.emit("b", f"candidates per minute, {workers} at once", round(len(jobs) / seconds * 60, 2), "/min",
                      "release: 60/21.8 = 2.75/min", f"{len(jobs)} candidates ({ok} ok) in {seconds:.1f} s; start "
                      f"+ warm-up {start_s:.1f} s; mean {np.mean([r['seconds'] for r in results]):.1f} s each")

    def part_c(self) -> None:
        size = {"channels": 4, "layers": 3} if self.smoke else {"channels": 36, "layers": 20}
        batch, warmup, steps = (16, 1, 1) if self.smoke else (96, 20, 50)
        if self.cuda:
            torch.backends.cudnn.benchmark = True
        # img/s does not depend on the data set's size: the embedded 5k subset (smoke: its 200-image part)
        data = DeviceImages(load_cifar("cifar10", self.data if self.smoke else None), self.device, CIFAR_MEAN,
                            CIFAR_STD)
        for lever in ("fp32", "bf16", "bf16+cl"):
            step = time_lever(self.device, data, lever, batch, warmup, steps, **size)
            self.emit("c", f"eeea_c train img/s, {lever}", round(batch / step, 1), "img/s",
                      "release 623 fp32 on an H200; target >= 2,500", f"{_size(size)} b{batch}, median of {steps}")

    def part_c_compile(self) -> None:
        """bf16 + channels_last + torch.compile(mode="reduce-overhead") in a subprocess: its compile time is capped."""
        if self.smoke:  # inductor would compile for minutes on a CPU: exercise the subprocess path without it
            lever, flags = "bf16+cl", ["--channels", "4", "--layers", "3", "--batch-size", "16", "--warmup", "1",
                                       "--steps", "1"]
        else:
            lever, flags = "bf16+cl+compile", ["--warmup", "20", "--steps", "50"]
        cmd = [sys.executable, str(HERE / "bench_train.py"), "--device", str(self.device), "--levers", lever,
               "--no-record", *flags]
        cap = self.cap("c-compile")
        code, text, seconds = _call(cmd, cap)
        match = re.search(rf"^{re.escape(lever)}: ([\d,.]+) img/s", text, re.M)
        if match:
            self.emit("c", f"eeea_c train img/s, {lever}", float(match.group(1).replace(",", "")), "img/s",
                      "release 623 fp32 on an H200; target >= 2,500", f"includes nothing of the {seconds:.0f} s "
                      "compile + run wall time")
        else:
            self.emit("c", f"eeea_c train img/s, {lever}", "-", "", "", f"exit {code} after {seconds:.0f} s (cap "
                      f"{cap:.0f} s): {text[-300:]!r}")

    def _search(self, part: str, label: str, flags: list[str], cap: float) -> None:
        run = self.work / f"search-{part}"
        cmd = [sys.executable, "-m", "eeea.cli", "search", "--device", str(self.device), "--out", str(run), "--force",
               "--quiet", *flags]
        code, text, seconds = _call(cmd, cap)
        archive = run / "archive.jsonl"
        done = len(archive.read_text().splitlines()) if archive.exists() else 0
        state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
        finished = code == 0 and bool(state.get("finished"))
        self.emit(part, f"{label} search wall time" + ("" if finished else f" (not finished: capped at {cap:.0f} s)"),
                  round(seconds, 1), "s", "2 min on 2 idle CPU cores" if part == "d1" else "",
                  f"{done} candidates evaluated ({done / max(seconds, 1e-9) * 60:.1f}/min); exit {code}"
                  + ("" if code in (0, None) else f": {text[-300:]!r}"))

    def part_d1(self) -> None:
        flags = ["--population", "2", "--generations", "0", "--epochs", "1"] if self.smoke else []
        self._search("d1", "default SER", ["--task", "ser", *flags],
                     self.cap("d1"))

    def part_d2(self) -> None:
        flags = ["--population", "2", "--generations", "0", "--epochs", "1", "--workers", "1"] if self.smoke else []
        self._search("d2", "ser_72k.yaml", ["--config", str(ROOT / "configs/search/ser_72k.yaml"), *flags],
                     self.cap("d2", rest=True))

    def part_e(self) -> None:
        tiny = ["--channels", "4", "--layers", "3", "--batch-size", "32", "--max-steps", "2"] if self.smoke else \
            ["--channels", "8", "--layers", "5", "--max-steps", "20"]
        search = [sys.executable, "-m", "eeea.cli", "search", "--task", "cifar10", "--device", str(self.device),
                  "--population", "2" if self.smoke else "4", "--generations", "0" if self.smoke else "1",
                  "--out", str(self.work / "e-search"), "--force", "--quiet", *tiny,
                  *(["--data", self.data] if self.smoke else [])]
        train = [sys.executable, "-m", "eeea.cli", "train", "--arch", "eeea_c", "--recipe", "fast", "--device",
                 str(self.device), "--epochs", "1", "--out", str(self.work / "e-train"), "--force", "--quiet", *tiny,
                 *(["--data", self.data] if self.smoke else [])]
        for label, cmd in (("eeea search --task cifar10", search), ("eeea train --recipe fast", train)):
            code, text, seconds = _call(cmd, self.cap("e"))
            self.emit("e", f"{label} --device {self.device}", "ok" if code == 0 else "FAILED", "",
                      "", f"exit {code} in {seconds:.1f} s" + ("" if code == 0 else f": {text[-400:]!r}"))


def _size(size: dict[str, Any]) -> str:
    return f"C{size['channels']} {size['layers']} cells"


def _call(cmd: list[str], cap: float) -> tuple[int | None, str, float]:
    """Run ``cmd`` from the repository root for at most ``cap`` seconds: (exit code or None when capped, output, s)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    t = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(1.0, cap))
        return done.returncode, done.stdout + done.stderr, time.perf_counter() - t
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, out.decode(errors="replace") if isinstance(out, bytes) else str(out), time.perf_counter() - t


def record_figures(path: Path) -> None:
    """Record the figures of a suite run (its figures.jsonl) in benchmarks/RESULTS.md, under the GPU and torch
    version they were measured on."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    head = rows[0]
    command = "python benchmarks/gpu_suite.py " + head["note"].split("command: ", 1)[-1]
    smoke = "smoke=True" in head["note"]
    for row in rows[1:]:
        if row["figure"] in ("part wall time", "skipped") or row["value"] in ("-", "skipped"):
            continue
        value = f"{row['value']} {row['unit']}".strip()
        record("gpu_suite" + (" (CPU smoke: no GPU figures)" if smoke else ""), f"{row['part']}: {row['figure']}",
               value + (f" ({row['note']})" if row["note"] else ""), row["reference"] or "-", command, head["value"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda[:N] (default) or cpu (with --smoke)")
    ap.add_argument("--data", help="CIFAR-10 training zip/folder, e.g. .data/cifar10-train.zip (default: the "
                    "embedded 5k subset, which makes (a)/(b) a tenth of the paper's epoch)")
    ap.add_argument("--only", help="comma list of parts " + ",".join(PARTS) + " (default: all)")
    ap.add_argument("--out", default=os.environ.get("OUT") or "runs/gpu_suite", help="output folder (default $OUT when set, else runs/gpu_suite)")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for the whole suite (default 480)")
    ap.add_argument("--rounds", type=int, default=1, help="(b): timed candidates per worker (default 1)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the embedded data: the code paths in seconds")
    ap.add_argument("--no-record", action="store_true", help="do not write benchmarks/RESULTS.md")
    ap.add_argument("--record-from", metavar="JSONL", help="only record a suite run's figures.jsonl in RESULTS.md")
    args = ap.parse_args(argv)
    if args.record_from:
        record_figures(Path(args.record_from))
        return
    parts = set(args.only.split(",")) if args.only else set(PARTS)
    if parts - set(PARTS):
        ap.error(f"--only: unknown part {sorted(parts - set(PARTS))[0]!r} (parts: {', '.join(PARTS)})")
    if resolve_device(args.device).type != "cuda" and not args.smoke:
        ap.error("--device cpu needs --smoke: the suite's figures are GPU figures")
    args.command = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    suite = Suite(args)
    print(f"GPU_WORKERS default {GPU_WORKERS}; figures to {suite.out}", flush=True)
    try:
        suite.run(parts)
    finally:
        shutil.rmtree(suite.work, ignore_errors=True)
    if not args.no_record and not args.smoke:
        record_figures(suite.out / "figures.jsonl")


if __name__ == "__main__":
    main()
