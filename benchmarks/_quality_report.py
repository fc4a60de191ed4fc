"""The figures of bench_search_quality from its runs: per benchmark, algorithm, budget and seed the best accuracy found
and the hypervolume fraction; the paired tests between rows; the tables of RESULTS.md and the plot."""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
from typing import Any

import numpy as np

from _quality_runs import BENCHMARKS, EEPI_BENCHMARKS, EEPI_BUDGETS, PEERS, RunSpec, eepi_thresholds, load_table
from _results import RESULTS, machine
from eeea.search.quality import TrueFront, best_found

SECTION = "## Search quality on tabular benchmarks (bench_search_quality)"
READING = "\n### Reading"
ALPHA = 0.05


# figures -----------------------------------------------------------------------------------------------------------
def collect(specs: list[RunSpec], runs: dict[RunSpec, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Per benchmark and algorithm: the seeds, their best accuracy and HV fraction after each step of evaluations
    (arrays seeds x steps), run lengths, costs; and the EE-PI study's rows."""
    top = args.budget_list[-1]
    steps = sorted(set(range(10, top + 1, 10)) | set(args.budget_list))
    out: dict[str, Any] = {"steps": steps, "benches": {}, "eepi": {}}
    for bench in args.bench_list:
        table = load_table(bench, args.data_dir)
        true, report = TrueFront(table.error, table.params), BENCHMARKS[bench][3]
        every = table.records(table.keys)
        algos: dict[str, Any] = {}
        for algo in args.algorithm_list:
            done = sorted((s.seed, runs[s]) for s in specs
                          if s.bench == bench and s.algorithm == algo and not s.max_params and s in runs)
            if not done:
                continue
            records = [table.records(r["keys"]) for _, r in done]
            algos[algo] = {
                "seeds": [seed for seed, _ in done],
                "acc": np.array([[best_found(r[:n], report) for n in steps] for r in records]),
                "hv": np.array([[true.fraction(r[:n]) for n in steps] for r in records]),
                "lengths": [len(r["keys"]) for _, r in done],
                "stopped": [r["stopped"] for _, r in done],
                "cpu": [r["cpu_seconds"] for _, r in done], "trials": [r["trials"] for _, r in done],
            }
        out["benches"][bench] = {"oracle": best_found(every, report), "max": float(table.test.max()), "algos": algos}
        if bench in EEPI_BENCHMARKS and "nsga2" in algos and args.eepi_seeds:
            out["eepi"][bench] = eepi_rows(bench, specs, runs, args, eepi_thresholds(bench, args.data_dir),
                                           [b for b in EEPI_BUDGETS if b <= top] or [top])
    return out


def eepi_rows(bench: str, specs: list[RunSpec], runs: dict[RunSpec, dict[str, Any]], args: argparse.Namespace,
              thresholds: dict[int, int], budgets: list[int]) -> list[list[str]]:
    """NSGA-II with a params threshold at each quartile vs the unconstrained runs (their first B evaluations)."""
    table, report = load_table(bench, args.data_dir), BENCHMARKS[bench][3]
    free = {s.seed: table.records(runs[s]["keys"]) for s in specs if s in runs and s.bench == bench
            and s.algorithm == "nsga2" and not s.max_params and s.seed < args.eepi_seeds}
    rows = []
    for q, threshold in thresholds.items():
        under = [r for r in table.records(table.keys) if r["params"] <= threshold]
        screened = {s.seed: runs[s] for s in specs if s in runs and s.bench == bench and s.max_params == threshold}
        if not screened:
            continue
        draws = statistics.mean(r["eepi"]["draws"] for r in screened.values())
        for budget in budgets:
            found = {seed: best_found(table.records(r["keys"][:budget]), report) for seed, r in screened.items()}
            over = [sum(x["params"] > threshold for x in r[:budget]) for r in free.values()]
            free_under = {seed: [x for x in r[:budget] if x["params"] <= threshold] for seed, r in free.items()}
            free_found = {seed: best_found(r, report) for seed, r in free_under.items() if r}
            common = sorted(set(found) & set(free_found))
            p = paired_p([found[s] for s in common], [free_found[s] for s in common])
            rows.append([f"p{q}: {threshold:,}", str(budget), f"{best_found(under, report) * 100:.2f}",
                         _mse(list(found.values())), f"{draws:.0f}",
                         f"{statistics.mean(over):.0f} of {budget}" if over else "-",
                         _mse(list(free_found.values())) if free_found else "-",
                         f"{len(free_found)}/{len(free)}", f"{_p(p)} ({len(common)} seeds)"])
    return rows


# tests -------------------------------------------------------------------------------------------------------------
def paired_p(a: list[float], b: list[float]) -> float:
    """Two-sided Wilcoxon signed-rank test of paired samples (zero differences dropped); 1.0 when all are equal."""
    from scipy.stats import wilcoxon

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) == 0 or not np.any(d):
        return 1.0
    return float(wilcoxon(d).pvalue)


def holm(p: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment of a family of p-values."""
    order = sorted(p, key=p.get)
    out, running = {}, 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * p[k]))
        out[k] = running
    return out


def column(values: dict[str, dict[int, float]]) -> dict[str, dict[str, Any]]:
    """Each row of one column (benchmark, metric, budget): mean, standard error, seeds, and its p against the column's
    best row, Holm-adjusted over the rows (the best row: its test against the runner-up); ``tied``: the best row, or
    one the test does not separate from it."""
    means = {a: float(np.mean(list(v.values()))) for a, v in values.items()}
    ranked = sorted(means, key=means.get, reverse=True)
    best = ranked[0]
    raw = {}
    for a in ranked[1:]:
        common = sorted(set(values[a]) & set(values[best]))
        raw[a] = paired_p([values[a][s] for s in common], [values[best][s] for s in common])
    adjusted = holm(raw) if raw else {}
    if len(ranked) > 1:
        adjusted[best] = adjusted[ranked[1]]
    out = {}
    for a in ranked:
        v = list(values[a].values())
        se = statistics.stdev(v) / np.sqrt(len(v)) if len(v) > 1 else 0.0
        p = adjusted.get(a)
        out[a] = {"mean": means[a], "se": se, "n": len(v), "p": p, "best": a == best,
                  "tied": a == best or (p is not None and p >= ALPHA)}
    return out


# text --------------------------------------------------------------------------------------------------------------
def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"p {p:.2g}" if p >= 1e-4 else "p < 1e-4"


def _mse(values: list[float], k: float = 100) -> str:
    se = statistics.stdev(values) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{statistics.mean(values) * k:.2f} ± {se * k:.2f}"


def _cell(c: dict[str, Any], k: float, digits: int, seeds: int) -> str:
    text = f"{c['mean'] * k:.{digits}f} ± {c['se'] * k:.{digits}f}"
    text = f"**{text}**" if c["tied"] else text
    n = f", {c['n']} seeds" if c["n"] != seeds else ""
    return f"{text} ({_p(c['p'])}{n})"


def render(report: dict[str, Any], args: argparse.Namespace, minutes: float) -> str:
    import torch

    from _quality_runs import _version

    budgets, steps = args.budget_list, report["steps"]
    cmd = (f"nice -n 10 python benchmarks/bench_search_quality.py --seeds {args.seeds} --budgets {args.budgets} "
           f"--algorithms {','.join(args.algorithm_list)} --benchmarks {','.join(args.bench_list)} "
           f"--population {args.population} --tournament-size {args.tournament_size} --max-trials {args.max_trials}"
           + (f" --eepi-seeds {args.eepi_seeds}" if args.eepi_seeds != args.seeds else ""))
    peers = [a for a in args.algorithm_list if a in PEERS]
    lines = [SECTION, "", f"Command: `{cmd}` (cached runs are reused; rerun it to resume or extend)", "",
             f"Machine: {machine()}, torch {torch.__version__}, optuna {_version('optuna')}, load average "
             f"{os.getloadavg()[0]:.1f} at the end (shared machine); {minutes:.1f} min for this invocation (cached runs "
             f"not recomputed); date {_dt.date.today().isoformat()}. Seeds 0-{args.seeds - 1} of every algorithm and "
             f"benchmark; eeea's algorithms have population {args.population} (regularised evolution: tournament "
             f"{args.tournament_size}, one child per round) and no EE-PI threshold"
             + (f"; Optuna's samplers: {'; '.join(f'{a} = {PEERS[a][0]}' for a in peers)}, defaults otherwise, "
                f"objectives (search error, params), one categorical parameter per gene, a repeated genome told its "
                f"known value and not counted, at most {args.max_trials:,} trials per run" if peers else "")
             + ". Cells: mean ± standard error over seeds; **bold**: the column's best row and every row a paired "
             "test does not separate from it (p ≥ 0.05). p: two-sided Wilcoxon signed-rank test paired by seed "
             "(scipy, zero differences dropped) of the row against the column's best row, Holm-adjusted over the "
             "column's rows; the best row's p is its test against the runner-up. HV = hypervolume fraction of the "
             "(search error, params) front vs the true front of the whole table.", ""]
    cols = [steps.index(b) for b in budgets]
    for bench, q in report["benches"].items():
        label = BENCHMARKS[bench][4]
        lines += [f"### {bench}: {label} (table's best by the search metric: {q['oracle'] * 100:.2f}, "
                  f"best in table: {q['max'] * 100:.2f})", ""]
        for metric, title, k, digits in (("acc", f"best {label}, %", 100, 2), ("hv", "HV fraction", 1, 3)):
            lines += [f"| {title} | " + " | ".join(f"{b} evaluations" for b in budgets) + " |",
                      "|---|" + "---|" * len(budgets)]
            stats = [column({a: dict(zip(v["seeds"], v[metric][:, c])) for a, v in q["algos"].items()})
                     for c in cols]
            for algo in q["algos"]:
                lines.append(f"| {algo} | " + " | ".join(_cell(s[algo], k, digits, args.seeds) for s in stats) + " |")
            lines.append("")
        notes = [f"- {algo}: {len(short)} of {len(v['lengths'])} runs stopped short of {budgets[-1]} evaluations "
                 f"(median {statistics.median(short):.0f}; e.g. {next(s for s in v['stopped'] if s)}); their figures "
                 f"at larger budgets are those at their end."
                 for algo, v in q["algos"].items() if (short := [n for n in v["lengths"] if n < budgets[-1]])]
        lines += notes + ([""] if notes else [])
    lines += cost_table(report, budgets[-1])
    for bench, rows in report["eepi"].items():
        lines += [f"### EE-PI on {bench}: NSGA-II with a params threshold vs without ({args.eepi_seeds} seeds)", "",
                  "| threshold (percentile: params) | evaluations | table's best under it (by the search metric) | "
                  "with EE-PI: best found | EE-PI draws per run (counted, not trained) | without: evaluations over the "
                  "threshold | without: best under it found | without: runs with any under it | with vs without "
                  "(Wilcoxon, paired) |", "|---|---|---|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def cost_table(report: dict[str, Any], top: int) -> list[str]:
    benches = list(report["benches"])
    algos = list(dict.fromkeys(a for q in report["benches"].values() for a in q["algos"]))
    lines = [f"### Cost per run ({top} distinct evaluations; median CPU seconds of the process, measured when the run "
             "was computed, on the shared machine; Optuna: median trials asked, repeats included)", "",
             "| algorithm | " + " | ".join(benches) + " |", "|---|" + "---|" * len(benches)]
    for algo in algos:
        cells = []
        for bench in benches:
            v = report["benches"][bench]["algos"].get(algo)
            if v is None:
                cells.append("-")
                continue
            trials = f", {statistics.median(v['trials']):,.0f} trials" if algo in PEERS else ""
            cells.append(f"{statistics.median(v['cpu']):.1f} s{trials}")
        lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_section(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md (or append it), keeping its hand-written "### Reading"."""
    body = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in body:
        head, _, rest = body.partition(SECTION)
        nxt = rest.find("\n## ")
        section, tail = (rest[:nxt + 1], rest[nxt + 1:]) if nxt >= 0 else (rest, "")
        reading = section[section.find(READING) + 1:].rstrip("\n") + "\n" if READING in section else ""
        body = head + text + ("\n" + reading if reading else "") + ("\n" + tail if tail else "")
    else:
        body = body.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(body)


# plot --------------------------------------------------------------------------------------------------------------
def plot(report: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    benches = report["benches"]
    steps = np.array(report["steps"])
    fig, axes = plt.subplots(2, len(benches), figsize=(4.2 * len(benches), 7), dpi=120, squeeze=False)
    for j, (bench, q) in enumerate(benches.items()):
        for i, (metric, k, label) in enumerate((("acc", 100, BENCHMARKS[bench][4] + " %"), ("hv", 1, "HV fraction"))):
            ax = axes[i][j]
            for algo, v in q["algos"].items():
                c = v[metric] * k
                mean = c.mean(axis=0)
                se = c.std(axis=0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else np.zeros_like(mean)
                ax.plot(steps, mean, label=algo, ls="--" if algo in PEERS else "-")
                ax.fill_between(steps, mean - se, mean + se, alpha=0.25)
            if metric == "acc":
                ax.axhline(q["oracle"] * 100, ls=":", c="0.5", lw=0.8, label="table's best")
                ax.set_title(bench)
            ax.set_xscale("log")
            ax.set_xlabel("distinct evaluations")
            ax.set_ylabel(label)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("mean ± standard error over seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
