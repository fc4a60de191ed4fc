"""The ``eeea`` command line: each verb is a thin call into the library.

User errors print one line (``eeea: error: ...``) and exit with code 2; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from .version import __version__
from .cli_types import (CPUS, GPUS, NON_NEGATIVE, NON_NEGATIVE_FLOAT, POPULATION, POSITIVE, POSITIVE_FLOAT,
                        PROBABILITY, SECONDS, SEED, WORKERS, bytes_flag, count_flag, duration_flag, flag, holdout_flag)
from .errors import RunStopped, UserError
from .choices import AMP, EEPI_SCOPES as SCOPES, EXPORT_FORMATS, QUANTIZATIONS, TABLE_FORMATS
from .interrupts import signal_of, stop_on_signals
from .outputs import check_output_file
from .units import format_count


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(message.replace("argument ", ""))


def _size_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network size (defaults: the space's evaluation size)")
    g.add_argument("--channels", type=flag("--channels", POSITIVE), help="initial channels C (cell spaces; 36 for the paper's CIFAR nets)")
    g.add_argument("--layers", type=flag("--layers", POSITIVE), help="number of cells (20 for the paper's CIFAR nets)")
    g.add_argument("--num-classes", type=flag("--num-classes", POSITIVE), help="classifier outputs")
    g.add_argument("--network", choices=["cifar", "imagenet"], help="cell network layout")
    g.add_argument("--input-size", type=flag("--input-size", POSITIVE), help="input resolution in pixels (default: the space's, or the genome's)")


def _speaker_list(text: str) -> list[str]:
    """argparse type of ``--test-speakers 03,08,16``."""
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of speakers")
    return items


LABELS_HELP = ("labels CSV for any corpus (speech emotion): columns path (relative to --data, or absolute), any of "
               "arousal,dominance,valence (the dimensions present are trained and scored), optional speaker, optional "
               "split (train/valid/test). Default: EmoDB's categories mapped to A/D/V")
SPLIT_HELP = ("Splits: the split column if present; else held-out speakers (--test-speakers, --valid-speakers; "
              "default EmoDB's 03,08,16 / 11,13 on EmoDB, on other corpora whole speakers drawn until each part "
              "holds ~15% of the clips); else a seeded clip split (15% each, not speaker-independent)")


def _ser_data_args(p: argparse.ArgumentParser, folds: bool) -> None:
    g = p.add_argument_group("speech-emotion data (task ser)", SPLIT_HELP + ". A search selects on the validation "
                             "part; only eeea train and bench_ser read the test part.")
    g.add_argument("--labels", metavar="CSV", help=LABELS_HELP)
    g.add_argument("--test-speakers", type=_speaker_list, metavar="A,B", help="speakers only the final report reads")
    g.add_argument("--valid-speakers", type=_speaker_list, metavar="A,B", help="speakers the search selects on")
    if folds:
        g.add_argument("--folds", type=flag("--folds", POSITIVE), metavar="K", help="score each candidate by K-fold cross-validation by "
                       "speaker over the training + validation speakers (mean is the objective; default 1: the "
                       "validation speakers only; K times the training time)")


def _size_of(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("channels", "layers", "num_classes", "network", "input_size")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


# verbs ------------------------------------------------------------------------------------------------------------
def cmd_zoo(args: argparse.Namespace) -> int:
    from .counting import count_macs, count_params
    from .spaces import get_space
    from .tables import render
    from .zoo import default_size, get_entry, list_models

    rows, errors = [], []
    for name in list_models():
        entry = get_entry(name)
        size = {**default_size(name), **_size_of(args)}
        try:
            params, macs = count_params(entry.genome, size), count_macs(entry.genome, size)
            per = get_space(entry.genome.space).input_text(entry.genome, **size)
        except UserError as e:  # a size flag of another space (--layers for a MobileNet): no counts for this row
            params = macs = per = None
            errors.append(e)
        rows.append([name, entry.genome.space, params, macs, per, entry.title])
    if errors and len(errors) == len(rows):
        raise errors[0]
    print(render(["name", "space", "params", "MACs", "MACs per", "description"], rows, args.format), end="")
    if args.format != "csv":
        import textwrap

        print("\n" + (textwrap.fill(ZOO_NOTE, 118) if args.format == "text" else ZOO_NOTE))
    return 0


#: what ``eeea zoo`` holds, said under its table
ZOO_NOTE = ("The zoo holds architectures, not trained weights: a model built from it starts from random weights; "
            "train one with `eeea train --arch NAME`. MACs: one forward pass at batch 1 on the input named; params "
            "exclude auxiliary heads.")


def cmd_show(args: argparse.Namespace) -> int:
    from .counting import count_macs, count_params
    from .runs import is_directory, is_search_run, locate
    from .spaces import get_space
    from .zoo import resolve

    if args.key is None and is_directory(args.arch) and is_search_run(args.arch):
        return show_run(Path(args.arch))
    if args.save:
        check_output_file(args.save, args.force, "--save")
    found = locate(args.arch, args.key)
    genome, default = resolve(args.arch, args.key)
    space = get_space(genome.space)
    size = space.size(**{**default, **_size_of(args)})
    params, macs = count_params(genome, size), count_macs(genome, size)
    shown = ", ".join(f"{k}={v}" for k, v in size.items())
    if args.save:
        genome.save(args.save)
    print(f"name:   {genome.name or '-'}")
    print(f"space:  {space.name} ({space.description})" if space.description else f"space:  {space.name}")
    print(f"key:    {genome.key}")
    print(f"text:   {genome.to_text()}")
    print(f"params: {params:,} ({format_count(params)}) at {shown}; auxiliary head excluded")
    shape = space.genome_input_shape(genome, **size)
    print(f"MACs:   {macs:,} ({format_count(macs)}) per input of {'x'.join(map(str, shape))} "
          f"({space.input_text(genome, **size)}), batch 1")
    for line in space.describe(genome):
        print(line)
    if found is not None:
        print(f"from:   {found.what}" + (f"; load it with eeea.create_model({str(args.arch)!r}"
                                         + (f", {args.key!r}" if args.key else "") + ")" if found.checkpoint else ""))
    if args.save:
        print(f"saved:  {args.save}")
    return 0


def show_run(run_dir: Path) -> int:
    """``eeea show RUN_DIR``: what the search ran, its state, evaluations, front, best and how to export it."""
    from .run_summary import search_result, summary_lines

    for line in summary_lines(run_dir):
        print(line)
    result = search_result(run_dir)
    if result.front:
        print()
        print_front(result, session=False)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from .tables import table_text

    print(table_text(args.dataset, args.runs, args.format), end="")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .search.loop import search_command

    overrides: dict[str, Any] = {}
    for key in ("task", "space", "max_params", "max_macs", "max_model_bytes", "initial_genomes", "eepi_scope",
                "objectives", "population", "generations",
                "seed", "workers", "device", "threads", "executor", "ray_address", "gpus_per_candidate",
                "cpus_per_candidate", "algorithm",
                "tournament_size", "max_evaluations", "amp", "channels_last", "max_latency",
                "latency_table", "measure_latency"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.data is not None:
        overrides["data"] = args.data
    if args.download:
        overrides["download"] = True
    if args.compile:
        overrides["compile"] = True
    train = {k: getattr(args, k) for k in ("epochs", "batch_size", "max_steps", "clips_per_epoch")
             if getattr(args, k) is not None}
    size = {k: getattr(args, k) for k in ("channels", "layers") if getattr(args, k) is not None}
    task = {k: getattr(args, k) for k in ("holdout", "limit", "dataset", "labels", "test_speakers", "valid_speakers",
                                         "folds") if getattr(args, k) is not None}
    for key, layer in (("train", train), ("size", size), ("task_config", task)):
        if layer:
            overrides[key] = layer
    quiet = args.quiet or args.silent
    result = search_command(args.out, args.resume, args.config, overrides, force=args.force, quiet=quiet)
    if args.silent:
        return 0
    if args.quiet:  # no bars and no table, but still the result and where it is
        best = next((r for r in result.front if r["status"] == "ok"), None)
        if best is not None:
            print(f"best: {best['key']} " + " ".join(f"{o}={_rounded(best['objectives'][o])}" for o in result.objectives))
        if result.stop_note:
            print(result.stop_note)
        print(f"run directory: {result.run_dir}")
        return 0
    print_front(result)
    return 0


#: column headers of the latency figures (all microseconds, batch 1, one thread)
LATENCY_HEADERS = {"latency": "latency_us (pred)", "measured_fp32": "fp32_us (onnx)", "measured_int8": "int8_us (onnx)",
                   "int8": "int8 (export)"}


def print_front(result: Any, session: bool = True) -> None:
    """The front as a table (objectives, params, MACs, the task's figures; isomorphic members printed once), EE-PI's
    statistics and an export line. ``session``: the result of a search that ran now (it says how many genomes it
    trained, or looked up, now); else the summary of a run's files (``eeea show RUN_DIR``)."""
    from .run_summary import collapse_isomorphic
    from .tasks.hints import train_options
    from .search.archive import SearchRun, counted_columns
    from .tables import render

    counted = counted_columns(result.front, result.objectives)
    extra = [(k, h) for k, h in result.columns if k not in result.objectives
             and any(k in r.get("extra", {}) for r in result.front)]  # e.g. no valence column without valence labels
    shown, twins, notes = collapse_isomorphic(result.front, result.objectives)
    rows = [[i, r["key"], *(_rounded(r["objectives"][o]) for o in result.objectives), *(r.get(c, "") for c in counted),
             *(_rounded(r["extra"][k]) if k in r.get("extra", {}) else "" for k, _ in extra), r["status"]]
            + ([f"+{len(twins[i])}" if i in twins else ""] if twins else [])
            for i, r in ((i, result.front[i]) for i in shown)]
    headers = [LATENCY_HEADERS.get(c, c) for c in (*result.objectives, *counted)]
    print(render(["rank", "key", *headers, *(h for _, h in extra), "status", *(["isomorphic"] if twins else [])], rows),
          end="")
    for note in notes:
        print(note)
    if "latency" in counted and getattr(result, "latency_note", ""):
        print(result.latency_note)
    config = SearchRun.read(result.run_dir).config()
    e = result.eepi
    done = "looked up" if getattr(result, "looked_up", False) else "trained"
    now = f", {result.trained} {done} now" if session else ""
    # the predictive search's proposals within budget that its predictor kept from training: not budget rejections
    predicted = (e.get("rejected_by") or {}).get("prediction", 0)
    over = e["rejections"] - predicted
    print(f"{result.evaluations} genomes evaluated{now}; EE-PI: {e['draws']} draws, {over} rejected "
          f"({(e['draws'] - over) / max(e['draws'], 1):.1%} accepted)"
          + (f", {predicted} of those accepted not trained by prediction" if predicted else ""))
    if getattr(result, "stop_note", ""):
        print(result.stop_note)
    print(f"run directory: {result.run_dir}")
    ok = [(i, r) for i, r in enumerate(result.front) if r["status"] == "ok"]
    if not ok:
        return
    rank, best = ok[0]  # the front is sorted by the task objective first: rank 0 scores best
    print(export_line(result.run_dir, rank, best, train_options(config)))


def export_line(run_dir: Path, rank: int, best: Any, train: Sequence[str] = ()) -> str:
    """The export command for the best front member that works as printed: int8 from trained weights (fp32 when the
    front's timing found its int8 file failing the check, or slower than fp32 on this machine), else the
    architecture as fp32 ONNX (int8 of untrained weights is refused) with the command that trains it."""
    from .search.front_latency import SLOWER
    from .units import format_duration

    if best.get("checkpoint"):
        int8 = str(best.get("int8", ""))
        why = ""
        if int8.endswith("failed check"):  # front timing found no int8 file close to torch
            why = "its int8 file failed the accuracy check"
        elif int8.endswith(SLOWER):
            why = (f"no int8 file beat fp32 on this machine: fp32 {format_duration(best['measured_fp32'])}, int8 "
                   f"{format_duration(best['measured_int8'])}")
        if why:
            return (f"export the best front member (trained weights; {why}, so fp32): eeea export "
                    f"{run_dir / best['checkpoint']} --format onnx --out {best['key']}.onnx")
        return (f"export the best front member (trained weights): eeea export {run_dir / best['checkpoint']} "
                f"--format onnx-int8 --out {best['key']}.int8.onnx")
    genome: Any = run_dir / "genomes" / f"{rank:02d}_{best['key']}.yaml"
    if not genome.is_file():  # an interrupted run has no genome files yet: the genome's text works as well
        genome = shlex.quote(str(best["genome"]))
    options = "".join(f" {shlex.quote(str(o))}" for o in train)
    return (f"train the best front member with: eeea train --arch {genome}{options} --out {best['key']}-run; "
            f"export its architecture now (untrained weights): eeea export {genome} --format onnx "
            f"--out {best['key']}.onnx")


#: ``eeea train`` flags -> (config section or None, key)
TRAIN_FLAGS = {
    "arch": (None, "arch"), "dataset": (None, "dataset"), "recipe": (None, "recipe"), "data": (None, "data"),
    "test_data": (None, "test_data"), "labels": (None, "labels"), "holdout": (None, "holdout"),
    "seed": (None, "seed"), "device": (None, "device"), "threads": (None, "threads"), "amp": (None, "amp"),
    "channels_last": (None, "channels_last"), "epochs": ("train", "epochs"), "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"), "weight_decay": ("train", "weight_decay"), "cutout": ("train", "cutout"),
    "drop_path": ("train", "drop_path"), "auxiliary_weight": ("train", "auxiliary_weight"),
    "grad_clip": ("train", "grad_clip"), "max_steps": ("train", "max_steps"), "channels": ("size", "channels"),
    "layers": ("size", "layers"), "input_size": ("size", "input_size"), "auxiliary": ("size", "auxiliary"),
    "crop_seconds": ("task", "crop_seconds"), "loss": ("task", "loss"),
    "test_speakers": ("task", "test_speakers"), "valid_speakers": ("task", "valid_speakers"),
}


def cmd_train(args: argparse.Namespace) -> int:
    from .train.trainer import train_command

    flags: dict[str, Any] = {}
    for name, (section, key) in TRAIN_FLAGS.items():
        value = getattr(args, name)
        if value is not None:
            (flags.setdefault(section, {}) if section else flags)[key] = value
    for name in ("autoaugment", "download", "compile"):
        if getattr(args, name):
            flags[name] = True
    result = train_command(args.out, args.resume, args.config, flags, force=args.force, quiet=args.quiet or args.silent)
    if not args.silent:
        if result.get("already_finished"):
            print(f"{args.resume}: finished on {result.get('finished', '?')}; nothing to train, nothing written")
        if "test_acc" in result:
            print(f"test accuracy {result['test_acc']:.2%} (error {result['test_error']:.2%}) after "
                  f"{result['epochs']} epochs; {result['test_split']}")
        else:
            dims = ", ".join(f"{k[9:]} {v:.3f}" for k, v in result.items() if k.startswith("test_ccc_"))
            print(f"test CCC {result.get('test_ccc', float('nan')):.3f} ({dims}); {result['test_split']}")
        print(f"params {result['params']:,}, MACs {result['macs']:,}; run directory: {args.resume or args.out}")
    return 0


def _rounded(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 4)


def cmd_label(args: argparse.Namespace) -> int:
    from .teachers import label_audio, load_teacher

    check_output_file(args.out, args.force, append=True)  # an existing CSV is continued, unless --force
    teacher = load_teacher(args.teacher)
    new, old, skipped = label_audio(teacher, args.audio, args.out, batch_size=args.batch_size, quiet=args.quiet,
                                    force=args.force, labels=args.labels)
    print(f"labelled {new} clip(s) ({', '.join(teacher.dims)}) into {args.out}" + (f"; {old} already there" if old
          else "") + (f"; {skipped} skipped (silent or under 0.1 s)" if skipped else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export, load_exportable

    check_output_file(args.out, args.force)  # before the work: a path eeea cannot write is one line now
    if args.quantization is not None and args.format != "onnx-int8":
        raise UserError(f"--quantization applies to --format onnx-int8, not {args.format}")
    item = load_exportable(args.arch, args.key)
    named = f"{args.arch} {args.key}" if args.key else args.arch
    if args.format == "onnx-int8" and not item.trained:  # int8 is checked against torch; random weights prove nothing
        raise UserError(f"{named} has untrained weights: int8 export needs a trained network; train it first "
                        f"(eeea train --arch ... --out RUN) and export RUN/model, or use --format onnx")
    shape = item.input_shape()
    report = export(item.model, shape, args.out, args.format, force=args.force, interface=item.interface(),
                    metadata=item.metadata(), quantization=args.quantization or "auto")
    for line in report.lines():
        print(line)
    if not item.trained and not args.quiet:
        print(f"note: {named} has no trained weights (a genome, or a search member whose weights were not kept): "
              f"the exported weights are untrained", file=sys.stderr)
    if args.format != "torchscript":
        import numpy as np

        from .latency import Timer
        from .units import format_duration

        timer = Timer("onnxruntime", 1)
        us = report.latency_us.get(report.int8_method or "")  # int8: timed already, beside fp32
        if us is None:
            example = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
            us = timer.onnx_us(report.path, example)
        print(f"latency: {format_duration(us)} per input of {'x'.join(map(str, shape))} ({timer.describe()}) on this "
              f"machine" + (f"; slower than the fp32 file ({format_duration(report.latency_us['fp32'])})"
                            if report.slower_than_fp32 else ""))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    path, summary = write_report(args.run_dir, args.out, force=args.force)
    if not args.quiet:
        print(f"wrote {path} ({summary}); open it in a browser (no network needed)")
    return 0


def size_pair(text: str) -> tuple[str, Any]:
    """argparse type for ``--size KEY=VALUE`` (the value read as YAML: ``seconds=1.5``, ``network=imagenet``)."""
    from .files import parse_yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. seconds=1.5)")
    try:
        parsed = parse_yaml(value, "--size")
    except UserError:
        parsed = None
    if isinstance(parsed, (list, dict)) or parsed is None and value.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: the value is not a number or word")
    return key.strip(), parsed


def cmd_latency_table(args: argparse.Namespace) -> int:
    from .latency import build_table
    from .spaces import get_space
    from .units import format_duration

    out = Path(args.out)
    check_output_file(out, args.force)
    space = get_space(args.space)
    if args.compose:
        from .latency import LatencyTable, compose_table

        table = compose_table(space, [LatencyTable.load(f) for f in args.compose])
        if args.size and space.size(**table.size) != space.size(**dict(args.size)):
            raise UserError(f"--size: the member tables were measured at {table.size}")
        table.save(out, force=args.force)
        if not args.quiet:
            print(f"wrote {out}: space {space.name} composed from {', '.join(args.compose)}; "
                  f"{len(table.entries)} module specs, correction {table.correction_form()} refitted on their "
                  f"{len(table.calibration)} calibration networks")
        return 0
    import numpy as np

    space.check_memory(space.random_genome(np.random.default_rng(0)), **space.size(**dict(args.size or [])))
    table = build_table(space, dict(args.size or []), args.runtime, args.threads, args.samples, args.shapes,
                        args.calibrate, quiet=args.quiet, passes=args.passes, optimization=args.optimization,
                        **({"quantile": args.quantile} if args.quantile is not None else {}))
    table.save(out, force=args.force)
    if not args.quiet:
        n = sum(len(p) for p in table.entries.values())
        print(f"wrote {out}: {len(table.entries)} module specs ({n} measured shapes) of space {space.name} at "
              f"{', '.join(f'{k}={v}' for k, v in table.size.items())}; {table.runtime} "
              f"{table.versions.get(table.runtime, '')}, {table.threads} thread(s), per-inference overhead "
              f"{format_duration(table.overhead_us)}, {len(table.blocked)} of them in onnxruntime's blocked layout; "
              f"correction {table.correction_form()}: x{table.correction['scale']:.3g} "
              f"{table.correction['offset_us']:+.0f}us"
              + (f" {table.correction['per_module_us']:+.0f}us per module" if table.correction.get("per_module_us")
                 else "")
              + (f" {table.correction['per_handoff_element_us'] * 1e3:+.3g}ns per element handed between blocked "
                 f"modules" if table.correction.get("per_handoff_element_us") else ""))
    return 0


# parser -----------------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="eeea", description="Evolutionary NAS with early-exit population initialisation (EE-PI).")
    parser.add_argument("--version", action="version", version=f"eeea {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("zoo", help="list the named architectures with their params and MACs")
    p.add_argument("--format", choices=TABLE_FORMATS, default="text")
    _size_args(p)
    p.set_defaults(func=cmd_zoo)

    p = sub.add_parser("show", help="describe an architecture (zoo name, genome file or text, checkpoint), or "
                       "summarise a search run directory")
    p.add_argument("arch", help="zoo name, genome file (.yaml/.json), one-line genome text, checkpoint directory, "
                   "training run directory, or search run directory (alone: the run's summary and front)")
    p.add_argument("key", nargs="?", help="with a search run directory: the key of one of its members (or 4+ "
                   "leading characters), or best (the front's first finished member)")
    p.add_argument("--save", metavar="FILE", help="also write the genome as a YAML (or .json) genome file")
    p.add_argument("--force", action="store_true", help="overwrite --save FILE if it exists")
    _size_args(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("search", help="EE-PI + NSGA-II architecture search into a run directory (resumable)")
    p.add_argument("--config", metavar="FILE", help="search config YAML (e.g. configs/search/cifar10_eeea_c.yaml); "
                   "flags override its keys")
    p.add_argument("--out", metavar="DIR", help="run directory to create (must be empty unless --force; "
                   "default: a new runs/TASK-DATE-TIME)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run (same config; nothing retrained)")
    p.add_argument("--force", action="store_true", help="start over in a non-empty --out (removes its run files)")
    p.add_argument("--task", help="what candidates are scored on: ser (default: speech-emotion students on EmoDB), "
                   "cifar10, cifar100, imagefolder; tabular benchmarks (a lookup, no training; need --data FILE): "
                   "nb201, nas_bench_macro")
    p.add_argument("--space", help="search space name or YAML file (default: the task's: ser -> audio_union, "
                   "image tasks -> eeea)")
    p.add_argument("--data", metavar="DIR", help="data folder/zip (default: the task's embedded real subset); with "
                   "--labels, the folder or zip of clips the CSV's paths are relative to; tabular tasks: the benchmark's "
                   "table file")
    p.add_argument("--download", action="store_true", help="download the data set into --data if missing")
    _ser_data_args(p, folds=True)
    p.add_argument("--max-params", type=count_flag("--max-params"), metavar="N",
                   help="EE-PI threshold on params at the evaluation size, e.g. 72k (default: the task's, ser 72k, "
                   "image tasks 5M; 0 = no early exit)")
    p.add_argument("--max-macs", type=count_flag("--max-macs"), metavar="N",
                   help="EE-PI threshold on MACs, e.g. 600M (default: ser 400M per 5 s, image tasks none; 0 = none)")
    p.add_argument("--max-model-bytes", type=bytes_flag("--max-model-bytes"), metavar="SIZE",
                   help="EE-PI threshold on the int8 ONNX file, e.g. 80k or 80KB, counted from the genome without "
                   "exporting (an upper bound whichever int8 method export keeps; default: ser 80 KB, else none; "
                   "0 = none)")
    p.add_argument("--initial-genome", dest="initial_genomes", action="append", metavar="ARCH",
                   help="a known-good genome (zoo name, genome file or text) the first population includes when it is "
                   "in the space and budget; repeatable (default: ser wav2small_17k; 'none' for none)")
    p.add_argument("--max-latency", type=duration_flag("--max-latency"), metavar="TIME", help="EE-PI threshold on the latency predicted by "
                   "--latency-table, e.g. 2ms or 500us (0 = none)")
    p.add_argument("--latency-table", metavar="FILE", help="a latency table of the target device (eeea "
                   "latency-table): enables --max-latency and the latency objective")
    p.add_argument("--measure-latency", action=argparse.BooleanOptionalAction, default=None,
                   help="time the front's exported ONNX (fp32 and int8) with onnxruntime, 1 "
                   "thread (default: when the search keeps checkpoints, as ser does, or has a latency table)")
    p.add_argument("--eepi-scope", choices=SCOPES, help="screen the initial population only, or offspring too "
                   "(default all)")
    p.add_argument("--objectives", help="comma list (default: the task objective and params: 1-ccc,params for "
                   "ser, error,params for images; add macs for three; latency (predicted, needs --latency-table))")
    p.add_argument("--population", type=flag("--population", POPULATION), help="population size (default: ser 10, image tasks 40)")
    p.add_argument("--generations", type=flag("--generations", NON_NEGATIVE), help="offspring generations (default: ser 3, image tasks 30)")
    p.add_argument("--algorithm", choices=["nsga2", "predictive", "random", "regularized-evolution"],
                   help="the optimiser (default predictive: a predictor trained on every evaluation picks each "
                   "round's population from thousands of screened proposals; docs/algorithms.md); nsga2: the paper's "
                   "NSGA-II; random: EE-PI draws only; "
                   "regularized-evolution: aging evolution (one child per round, generations x population children)")
    p.add_argument("--tournament-size", type=flag("--tournament-size", POSITIVE), metavar="S",
                   help="regularized-evolution: members sampled per tournament (default 5)")
    p.add_argument("--max-evaluations", type=flag("--max-evaluations", POSITIVE), metavar="N",
                   help="stop after N distinct evaluations (the same budget unit for every algorithm); without "
                   "--generations, N alone bounds the run")
    p.add_argument("--epochs", type=flag("--epochs", POSITIVE), help="training epochs per candidate (default: ser 8, image tasks 1)")
    p.add_argument("--batch-size", type=flag("--batch-size", POSITIVE), help="training batch size (default: ser 16, image tasks 128)")
    p.add_argument("--max-steps", type=flag("--max-steps", POSITIVE), help="cap on training steps per epoch (image tasks; quick looks)")
    p.add_argument("--clips-per-epoch", type=count_flag("--clips-per-epoch"), metavar="N",
                   help="ser: train each candidate on at most N clips per epoch, drawn afresh each epoch, so a "
                   "large corpus costs no more than N clips (default 256; 0 = every training clip)")
    p.add_argument("--channels", type=flag("--channels", POSITIVE), help="initial channels of the trained candidates (search size)")
    p.add_argument("--layers", type=flag("--layers", POSITIVE), help="cells of the trained candidates (search size)")
    p.add_argument("--holdout", type=holdout_flag, help="image tasks: held-out part of the training set, a fraction "
                   "(default 0.1) or a count")
    p.add_argument("--limit", type=flag("--limit", POSITIVE), help="image tasks: use only this many training images (quick looks)")
    p.add_argument("--dataset", choices=["cifar10", "cifar100", "imagenet16"],
                   help="task nb201: the benchmark's data set (default cifar10)")
    p.add_argument("--seed", type=flag("--seed", SEED), help="run seed (default 0)")
    p.add_argument("--workers", type=flag("--workers", WORKERS), help="evaluation processes (default: ser 2, image tasks 1 = in-process; "
                   "on CUDA 4 candidates at once per GPU)")
    p.add_argument("--threads", type=flag("--threads", WORKERS),
                   help="torch CPU threads per candidate (default 1 in every executor, so results do not depend on "
                        "--workers; use --workers N to use N cores)")
    p.add_argument("--device", help="auto, cpu or cuda[:N] (default auto)")
    p.add_argument("--executor", metavar="KIND", help="who trains the candidates: local (in this "
                   "process), pool (--workers processes here) or ray (--workers Ray actors, here or on a cluster; "
                   "needs pip install 'eeea[ray]'); default local for 1 worker, pool for more")
    p.add_argument("--ray-address", metavar="ADDR", help="--executor ray: join the Ray cluster at ADDR (auto: the "
                   "one started on this machine with ray start; default: start a local Ray instance)")
    p.add_argument("--gpus-per-candidate", type=flag("--gpus-per-candidate", GPUS), metavar="F", help="--executor ray: GPUs per candidate; "
                   "0.25 puts four on each GPU (default 1 when the cluster has GPUs, else 0)")
    p.add_argument("--cpus-per-candidate", type=flag("--cpus-per-candidate", CPUS), metavar="N", help="--executor ray: CPUs reserved per "
                   "candidate (default 1)")
    g = p.add_argument_group("speed levers of the candidates' training (default: bf16 + channels_last on CUDA, off on "
                             "the CPU; they change results, so a resumed run keeps them)")
    g.add_argument("--amp", choices=AMP, help="autocast dtype (auto: bf16 on CUDA, none on the CPU)")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--compile", action="store_true",
                   help='torch.compile(mode="reduce-overhead") each candidate (CUDA graphs on CUDA; default off)')
    p.add_argument("--quiet", action="store_true", help="no progress bars or table: only the result and run directory")
    p.add_argument("--silent", action="store_true", help="print nothing (errors still go to stderr)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("report", help="write a search run's report: one HTML file (front, progress, EE-PI funnel, "
                       "candidates, run facts) that opens offline; the search keeps RUN_DIR/report.html current")
    p.add_argument("run_dir", metavar="RUN_DIR", help="search run directory: finished, interrupted or still running")
    p.add_argument("--out", metavar="FILE", help="the report file (default RUN_DIR/report.html)")
    p.add_argument("--force", action="store_true", help="overwrite an --out that is not an eeea report")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("table", help="regenerate a table of the EEEA-Net paper with measured params and MACs")
    p.add_argument("dataset", help="cifar10, cifar100 or imagenet")
    p.add_argument("--format", choices=TABLE_FORMATS, default="text")
    p.add_argument("--runs", metavar="DIR", help="fill the measured error from the training runs under DIR "
                   "(result.json files of eeea train, matched by genome and data set; mean ± std over seeds): runs "
                   "of the paper's recipe on the test split in the paper's column, other runs in a table apart")
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("train", help="train an architecture with a recipe (paper or fast) into a resumable run directory")
    p.add_argument("--arch", help="zoo name, genome file or genome text")
    p.add_argument("--dataset", "--task", dest="dataset", help="cifar10 (default), cifar100, imagefolder or ser")
    p.add_argument("--recipe", help="paper (the EEEA-Net CIFAR recipe), fast (default) or a recipe YAML file")
    p.add_argument("--config", metavar="FILE", help="training config YAML (keys of configs/train/*.yaml); flags override")
    p.add_argument("--out", metavar="RUN_DIR", help="run directory to create (must be empty unless --force)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run where its last epoch ended")
    p.add_argument("--force", action="store_true", help="start over in a non-empty --out (removes its run files)")
    p.add_argument("--data", metavar="DIR", help="data folder/zip (default: the embedded CIFAR-10 / EmoDB subset); "
                   "with --labels, the folder or zip of clips the CSV's paths are relative to")
    p.add_argument("--test-data", metavar="DIR", help="image folder/zip holding the test split (when --data has none)")
    p.add_argument("--download", action="store_true", help="download CIFAR into --data if missing")
    p.add_argument("--holdout", type=holdout_flag, help="held-out fraction when no test split exists (default 0.1)")
    _ser_data_args(p, folds=False)
    p.add_argument("--seed", type=flag("--seed", SEED), help="seed (default 0)")
    p.add_argument("--device", help="auto (default), cpu or cuda[:N]")
    p.add_argument("--threads", type=flag("--threads", WORKERS), help="torch CPU threads (default 1, as eeea search "
                   "uses per candidate: faster than torch's one per core on a small or busy CPU; more may pay on many "
                   "idle cores)")
    g = p.add_argument_group("recipe overrides")
    g.add_argument("--epochs", type=flag("--epochs", POSITIVE))
    g.add_argument("--batch-size", type=flag("--batch-size", POSITIVE))
    g.add_argument("--lr", type=flag("--lr", POSITIVE_FLOAT))
    g.add_argument("--weight-decay", type=flag("--weight-decay", NON_NEGATIVE_FLOAT))
    g.add_argument("--cutout", type=flag("--cutout", NON_NEGATIVE), help="cutout square side in pixels (0 = off)")
    g.add_argument("--drop-path", type=flag("--drop-path", PROBABILITY), help="final drop-path probability (ramped linearly from 0)")
    g.add_argument("--auxiliary-weight", type=flag("--auxiliary-weight", NON_NEGATIVE_FLOAT))
    g.add_argument("--grad-clip", type=flag("--grad-clip", NON_NEGATIVE_FLOAT))
    g.add_argument("--max-steps", type=flag("--max-steps", POSITIVE), help="cap on steps per epoch (quick looks, tests)")
    g.add_argument("--autoaugment", action="store_true", help="torchvision AutoAugment (CIFAR-10 policy) per image, on "
                   "the CPU (costs CPU time per batch; see docs/training.md)")
    g.add_argument("--crop-seconds", type=flag("--crop-seconds", SECONDS), help="ser: training crop length")
    g.add_argument("--loss", help="ser: ccc+mean (default: 1 - CCC with the outputs' mean held at the targets'), "
                   "ccc alone (can stall at CCC 0) or ccc+mse")
    g = p.add_argument_group("network size")
    g.add_argument("--channels", type=flag("--channels", POSITIVE), help="initial channels C (cell genomes; paper 36)")
    g.add_argument("--layers", type=flag("--layers", POSITIVE), help="cells (cell genomes; paper 20)")
    g.add_argument("--auxiliary", action=argparse.BooleanOptionalAction, default=None, help="auxiliary head (cells)")
    g.add_argument("--input-size", type=flag("--input-size", POSITIVE), help="input resolution (default: the genome's or the space's)")
    g = p.add_argument_group("speed levers (defaults: bf16 + channels_last on CUDA, off on the CPU)")
    g.add_argument("--amp", choices=AMP, help="autocast dtype (auto: bf16 on CUDA)")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--compile", action="store_true", help='torch.compile(mode="reduce-overhead"): CUDA graphs on CUDA')
    p.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines: only the result")
    p.add_argument("--silent", action="store_true", help="print nothing (errors still go to stderr)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("label", help="label audio with a teacher's arousal/dominance/valence (resumable)")
    p.add_argument("--teacher", required=True, help="teacher: labels .csv, .onnx model, eeea checkpoint or HF directory")
    p.add_argument("--data", "--audio", dest="audio", required=True, metavar="DIR_OR_ZIP",
                   help="folder or zip of audio files (.wav/.flac/.ogg, nested folders, any sample rate)")
    p.add_argument("--labels", metavar="CSV", help="label only the clips this labels CSV lists (paths relative to "
                   "--data), copying its speaker and split columns")
    p.add_argument("--out", required=True, metavar="CSV", help="labels CSV; an existing one is appended to")
    p.add_argument("--batch-size", type=flag("--batch-size", POSITIVE), default=16, help="clips per batch (rows are flushed after each)")
    p.add_argument("--force", action="store_true", help="start --out afresh instead of resuming it")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("export", help="export a checkpoint or genome to ONNX, int8 ONNX or TorchScript (checked)")
    p.add_argument("arch", help="checkpoint directory, training run directory, search run directory (with KEY), zoo "
                   "name, genome file or genome text")
    p.add_argument("key", nargs="?", help="with a search run directory: a member's key (or 4+ leading characters), "
                   "or best (the front's first finished member)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="onnx")
    p.add_argument("--quantization", choices=QUANTIZATIONS, help="onnx-int8: auto (default) times the int8 methods "
                   "that pass the accuracy check and keeps the fastest, saying so when fp32 is faster still on this "
                   "machine; static (calibrated activations) or dynamic (activations quantised per call): that method")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no notes")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("latency-table", help="measure every module of a space on this machine: a latency table for "
                       "--max-latency and the latency objective")
    p.add_argument("--space", required=True, help="search space name or YAML file")
    p.add_argument("--size", type=size_pair, action="append", metavar="KEY=VALUE",
                   help="network size option (repeatable), e.g. seconds=5 or channels=16 (default: the space's "
                   "evaluation size; a search uses the table only at the size it was measured at)")
    p.add_argument("--runtime", choices=["onnxruntime", "torch"], default="onnxruntime",
                   help="what the device runs (default onnxruntime, CPU)")
    p.add_argument("--threads", type=flag("--threads", WORKERS), default=1, help="intra-op threads (default 1)")
    p.add_argument("--samples", type=flag("--samples", POSITIVE), default=1000, help="random genomes walked to enumerate the modules "
                   "(at least; drawing goes on until 500 draws in a row add no new module); default 1000")
    p.add_argument("--shapes", type=flag("--shapes", POSITIVE), default=2, help="input shapes measured per module (the most frequent, then "
                   "the largest and the smallest; others are interpolated by input size); default 2")
    p.add_argument("--passes", type=flag("--passes", POSITIVE), default=3, help="interleaved passes over all modules and calibration "
                   "networks, each figure its fastest pass (default 3)")
    p.add_argument("--optimization", choices=["all", "extended", "basic", "disabled"], default="all",
                   help="onnxruntime's graph optimisation level, as the model will be run (default all, onnxruntime's "
                   "own; extended: no CPU-specific layout transforms, as in a model optimised offline)")
    p.add_argument("--quantile", type=flag("--quantile", PROBABILITY), help="a timing's figure: this quantile of its timed runs (default "
                   "0.1, eeea.latency.QUANTILE: steadier than the median on a machine shared with other work; 0.5 "
                   "is the median)")
    p.add_argument("--calibrate", type=flag("--calibrate", NON_NEGATIVE), default=60, help="random whole networks timed end to end to fit the "
                   "table's correction of the sum of modules (default 60; 0: none)")
    p.add_argument("--compose", nargs="+", metavar="FILE", help="a union space's table composed from a table of "
                   "each member (measured on one device the same way) instead of measured: seconds, not minutes")
    p.add_argument("--out", required=True, metavar="FILE", help="the table (JSON)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_latency_table)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with stop_on_signals():  # around the handlers too: a second signal must not cut the last line short
        return _run(argv)


def _run(argv: list[str]) -> int:
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "func", None):
            build_parser().print_help()
            return 2
        return args.func(args)
    except UserError as e:
        if debug:
            raise
        print(f"eeea: error: {e}{_resume_hint(argv) if isinstance(e, RunStopped) else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, SIGINT or SIGTERM (eeea.interrupts): one line, what was kept
        from .rundir import held_runs

        sig = signal_of(e)
        word = "interrupted" if sig == signal.SIGINT else f"stopped by {signal.Signals(sig).name}"
        runs = held_runs()
        if not runs:
            print(f"eeea: {word}", file=sys.stderr)
        for run in runs:  # say what was kept and how to go on; the run's log records it too
            saved = run.saved_summary()
            run.log_line(f"{'interrupted by the user (SIGINT, Ctrl-C)' if sig == signal.SIGINT else word}; {saved}")
            print(f"eeea: {word}; {saved} in {run.path}; continue with: {_resume_command(argv, run.path)}",
                  file=sys.stderr)
        return 128 + sig
    except BrokenPipeError:
        return 0
    finally:
        from .rundir import release_locks

        release_locks()


def _resume_command(argv: Sequence[str], path: Any) -> str:
    verb = argv[0] if argv and argv[0] in ("search", "train") else "search"
    return f"eeea {verb} --resume {path}"


def _resume_hint(argv: Sequence[str]) -> str:
    """``; continue with: eeea VERB --resume RUN`` for the run this process holds (nothing when none)."""
    from .rundir import held_runs

    runs = held_runs()
    return f"; continue with: {_resume_command(argv, runs[0].path)}" if runs else ""


if __name__ == "__main__":
    sys.exit(main())
