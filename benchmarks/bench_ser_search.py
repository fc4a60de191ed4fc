"""The default speech-emotion search, timed: wall time, CPU time, load average and peak memory of the process tree.

Runs ``eeea search --max-params 72k`` (the defaults; ``--extra`` adds flags) as a child process on each corpus asked
for and samples the process tree every second: the peak of the summed resident set (RSS, shared pages counted once
per process), of the summed proportional set (PSS, shared pages split between the processes that map them: the
memory the tree really holds) and of the largest single process. CPU time is the children's user + system time; the
load average is sampled with the memory, because on a shared machine the wall time depends on it (the target, 15 min,
is for 2 idle cores: CPU time / 2 is what the wall time would be with nothing else running, if both cores stay busy).

Corpora: ``emodb`` (the whole EmoDB zip of the shared data folder), ``generated`` (a 2,000-clip corpus of 60
speakers, six of them holding 74 % of the clips, 0.8-5.1 s clips, arousal in three levels: written once by
:func:`eeea.data.synthetic.write_corpus` into ``--corpus-dir``), or a folder with ``labels.csv`` inside.

    python benchmarks/bench_ser_search.py                       # both corpora, to the terminal and --out-dir
    python benchmarks/bench_ser_search.py --record              # ... and into benchmarks/RESULTS.md
    python benchmarks/bench_ser_search.py generated --extra "--space mobilenet_audio"

After each search, every member of the run's front is exported as ``eeea export CKPT --format onnx-int8`` writes it
(the file a user gets, after the accuracy check picks static or dynamic int8) and as both int8 files that check picks
from; the largest of each is compared with the default bound, 80 KB. ``--front RUN`` does only that, for a finished
run directory.

Each run directory stays under ``--out-dir`` (default ``runs/bench_ser_search``) for ``bench_ser.py --run DIR``.
Figures go to the terminal, to ``--out FILE`` when given, and into RESULTS.md only with ``--record``.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import Recorder  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from shared_data import shared_folder  # noqa: E402

CORPORA = ("emodb", "generated")


def tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB, (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.split()[-1] == "kB"}
        return fields.get("Rss", 0), fields.get("Pss", 0)
    except (OSError, ValueError, IndexError):
        return 0, 0


def timed_search(args: list[str], log: Path) -> dict[str, float]:
    """Run ``eeea search ARGS``, sampling memory and load every second; the figures of the run."""
    before = os.times()
    start = time.perf_counter()
    peak = {"rss": 0, "pss": 0, "process": 0}
    loads: list[float] = []
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, "-m", "eeea.cli", "search", *args], stdout=out,
                                 stderr=subprocess.STDOUT)
        while child.poll() is None:
            sizes = [memory_kb(p) for p in tree(child.pid)]
            peak["rss"] = max(peak["rss"], sum(r for r, _ in sizes))
            peak["pss"] = max(peak["pss"], sum(p for _, p in sizes))
            peak["process"] = max(peak["process"], max((r for r, _ in sizes), default=0))
            loads.append(os.getloadavg()[0])
            time.sleep(1.0)
    wall = time.perf_counter() - start
    after = os.times()
    if child.returncode:
        sys.exit(f"bench_ser_search: eeea search {' '.join(args)} failed (exit {child.returncode}); see {log}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall": wall, "cpu": cpu, "rss": peak["rss"] / 2**20, "pss": peak["pss"] / 2**20,
            "process": peak["process"] / 2**20, "load_mean": sum(loads) / max(1, len(loads)),
            "load_max": max(loads, default=0.0)}


def front_files(run: Path) -> dict[str, object]:
    """Sizes of the int8 files of every member of ``run``'s front: ``kept`` (what ``eeea export --format onnx-int8``
    writes, None where its accuracy check refused int8), ``both`` (the larger of the static and dynamic file, as
    :func:`eeea.export.int8_variants` writes them) and ``count`` (the size screen's bound for the genome)."""
    from eeea import Genome, get_space
    from eeea.cli import main as eeea_main
    from eeea.export import check_inputs, load_exportable
    from eeea.export import int8_variants

    with open(run / "pareto.csv") as f:
        front = list(csv.DictReader(f))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for row in front:
            folder = Path(tmp) / row["key"]
            folder.mkdir()
            kept = folder / "kept.int8.onnx"
            ok = eeea_main(["export", str(run / row["checkpoint"]), "--format", "onnx-int8", "--out", str(kept)]) == 0
            item = load_exportable(run / row["checkpoint"])
            calibration, _ = check_inputs(item.input_shape(), n=2)
            files = int8_variants(item.model, item.input_shape(), folder, item.metadata(), calibration)
            genome = Genome.from_text(row["genome"])
            rows.append({"key": row["key"], "kept": kept.stat().st_size if ok else None,
                         "both": max(p.stat().st_size for p in files.values()),
                         "count": get_space(genome.space).count_int8_bytes(genome)})
    return {"members": len(rows), "rows": rows}


def record_front(record: Recorder, name: str, run: Path, command: str) -> None:
    """The front's int8 file sizes of ``run`` (see :func:`front_files`), against 80 KB."""
    got = front_files(run)
    rows = got["rows"]
    kept = [r["kept"] for r in rows if r["kept"] is not None]
    refused = len(rows) - len(kept)
    record("search_ser", f"... {name}: largest int8 file of the {got['members']} front members, as eeea export "
           f"writes it{f' ({refused} refused int8 by its accuracy check)' if refused else ''} / the larger of "
           "static and dynamic / the size screen's count",
           f"{f'{max(kept):,}' if kept else '-'} / {max(r['both'] for r in rows):,} / {max(r['count'] for r in rows):,} B",
           "<= 80 KB (80,000 B) each", command)
    for r in rows:
        kept_text = f"{r['kept']:,} B" if r["kept"] is not None else "refused (int8 check failed)"
        print(f"  {r['key']}: kept {kept_text}, larger of static and dynamic {r['both']:,} B, counted {r['count']:,} B",
              flush=True)


def idle_projection(run: Path, cpu: float) -> float:
    """Seconds the search of ``run`` would take on idle cores, projected from a loaded run: each candidate's logged
    time scaled by the share of a core it got (the tree's CPU time over the summed candidate times, which counts the
    main process's own work too, so the projection errs long), then scheduled generation by generation on the run's
    workers (each candidate to the first free worker, in the order the log lists them; a generation waits for its
    slowest candidate)."""
    import yaml

    workers = int((yaml.safe_load((run / "config.yaml").read_text()) or {}).get("workers") or 1)
    gens: dict[int, list[float]] = {}
    for line in (run / "log.txt").read_text().splitlines():
        m = re.search(r" gen (\d+) \S+ ok .* in ([\d.]+)s$", line)
        if m:
            gens.setdefault(int(m.group(1)), []).append(float(m.group(2)))
    total = sum(sum(v) for v in gens.values())
    if not total:
        return cpu / workers
    share = cpu / total
    span = 0.0
    for times in gens.values():
        free = [0.0] * workers
        for t in times:
            free[free.index(min(free))] += t * share
        span += max(free)
    return span


def corpus_args(name: str, corpus_dir: Path) -> list[str]:
    """The data flags of a corpus (writing the generated one first when it is missing)."""
    if name == "emodb":
        return ["--data", str(shared_folder() / "data" / "emodb.zip")]
    if name == "generated":
        labels = corpus_dir / "labels.csv"
        if not labels.is_file():
            from eeea.data.synthetic import write_corpus

            print(f"writing the generated corpus into {corpus_dir} ...", flush=True)
            write_corpus(corpus_dir)
        return ["--data", str(corpus_dir), "--labels", str(labels)]
    folder = Path(name)
    return ["--data", str(folder), "--labels", str(folder / "labels.csv")]


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(round(seconds % 60)):02d} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="*", default=list(CORPORA),
                    help=f"{', '.join(CORPORA)} or a folder holding labels.csv (default: both)")
    ap.add_argument("--extra", default="", help="more flags for eeea search, e.g. \"--space mobilenet_audio\"")
    ap.add_argument("--out-dir", default="runs/bench_ser_search", help="where the run directories go")
    ap.add_argument("--corpus-dir", default="runs/generated_ser_corpus", help="where the generated corpus is kept")
    ap.add_argument("--front", metavar="RUN", action="append", default=[],
                    help="only check the int8 files of a finished run's front (repeatable)")
    ap.add_argument("--record", action="store_true", help="also write the figures into benchmarks/RESULTS.md")
    ap.add_argument("--out", metavar="FILE", help="also write the figures into FILE (the form of RESULTS.md)")
    args = ap.parse_args()
    record = Recorder(args.record, args.out)
    command = "python benchmarks/bench_ser_search.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = shlex.split(args.extra)
    if args.front:
        for run in args.front:
            record_front(record, Path(run).name, Path(run), command)
        return
    for name in args.corpora:
        run = out_dir / Path(name).name
        flags = [*corpus_args(name, Path(args.corpus_dir)), "--max-params", "72k", *extra, "--out", str(run),
                 "--force", "--quiet"]
        print(f"{name}: eeea search {' '.join(flags)}", flush=True)
        got = timed_search(flags, out_dir / f"{Path(name).name}.log")
        best = (out_dir / f"{Path(name).name}.log").read_text().strip().splitlines()
        best_line = next((line for line in best if line.startswith("best:")), "")
        figures = [
            (f"default search on {name}{' (' + args.extra + ')' if extra else ''}: wall time (load average "
             f"{got['load_mean']:.1f} mean, {got['load_max']:.1f} max, on {os.cpu_count()} cores)",
             minutes(got["wall"]), "<= 15 min on 2 idle cores"),
            (f"... CPU time of the process tree (/ 2 cores: {minutes(got['cpu'] / 2)})", minutes(got["cpu"]),
             "<= 30 min (15 min on 2 cores)"),
            ("... projected wall time on 2 idle cores: each candidate's logged time x the share of a core it got "
             "(CPU time / summed candidate times), scheduled on the workers generation by generation",
             minutes(idle_projection(run, got["cpu"])), "<= 15 min"),
            ("... peak memory of the process tree: PSS (shared pages split) / RSS summed / largest process",
             f"{got['pss']:.2f} / {got['rss']:.2f} / {got['process']:.2f} GB", "worker <= 1.2 GB"),
            ("... chosen student (best validation score)", best_line.removeprefix("best: ") or "-", "-"),
        ]
        for figure, value, target in figures:
            record("search_ser", figure, value, target, command)
        record_front(record, name, run, command)
        print(f"run directory: {run}", flush=True)


if __name__ == "__main__":
    main()
