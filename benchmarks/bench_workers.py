"""What an image pool worker costs around its candidates: decoding the embedded 5,000-JPEG CIFAR-10 subset (once per
worker before; memory-mapped from the decode cache after), its memory after preparing the task, and its memory after
a candidate with and without returning freed memory. Each figure is measured in a fresh process, like a worker.

    python benchmarks/bench_workers.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import record  # noqa: E402

WORKER = r"""
import json, sys, time
def mem():
    fields = {}
    for line in open("/proc/self/smaps_rollup"):
        parts = line.split()
        if parts[0] in ("Rss:", "Private_Clean:", "Private_Dirty:"):
            fields[parts[0]] = int(parts[1]) / 1024
    return fields["Rss:"], fields["Private_Clean:"] + fields["Private_Dirty:"]
import torch
torch.set_num_threads(1)
from eeea.search import executors
from eeea.search.executors import Evaluator, Job
if sys.argv[1] == "keep":
    executors.release_memory = lambda device=None: None  # the behaviour before: nothing handed back
start = time.perf_counter()
ev = Evaluator("cifar10", {}, "eeea", "cpu", 1)
prepared = time.perf_counter() - start
rss_prepared, private_prepared = mem()
genome = "eeea:" + ";".join(f"{c}=" + ",".join("sep_conv_3x3@1" for _ in range(10)) for c in ("normal", "reduce"))
job = Job("k", genome, 1, {"channels": 16, "layers": 5}, {"epochs": 1, "batch_size": 96, "max_steps": 8})
ev.evaluate(job)
rss_after, private_after = mem()
print(json.dumps({"prepare_s": prepared, "rss_prepared": rss_prepared, "private_prepared": private_prepared,
                  "rss_after": rss_after, "private_after": private_after}))
"""


def worker(cache: str, mode: str) -> dict:
    env = {**os.environ, "EEEA_CACHE": cache, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", WORKER, mode], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="eeea-cache-")
    try:
        worker(tmp, "release")  # fills the cache, as the first worker of a run does
        before = [worker("off", "keep") for _ in range(args.repeats)]
        after = [worker(tmp, "release") for _ in range(args.repeats)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    load = os.getloadavg()[0]
    command = f"python benchmarks/bench_workers.py --repeats {args.repeats}"
    rows = [
        ("prepare (decode) per worker, s: before (decode) / after (cached)",
         f"{med(before, 'prepare_s'):.2f} / {med(after, 'prepare_s'):.2f}", "after << before"),
        ("worker RSS after prepare, MB: before / after (mapped pages shared)",
         f"{med(before, 'rss_prepared'):.0f} / {med(after, 'rss_prepared'):.0f}", "-"),
        ("worker private memory after prepare, MB: before / after",
         f"{med(before, 'private_prepared'):.0f} / {med(after, 'private_prepared'):.0f}", "after < before"),
        ("worker RSS after one candidate, MB: before (kept) / after (released)",
         f"{med(before, 'rss_after'):.0f} / {med(after, 'rss_after'):.0f}", "after < before"),
        ("load average (1 min) at the end", f"{load:.1f}", "-"),
    ]
    for figure, value, target in rows:
        record("workers", figure, value, target, command)


if __name__ == "__main__":
    main()
