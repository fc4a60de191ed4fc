"""``eeea train``: train one architecture to the end of a recipe, in a run directory that survives interruption.

Run directory::

    config.yaml     the resolved configuration (defaults + recipe + --config + flags)
    checkpoint.pt   after every epoch: state dicts (model, optimizer, schedule), RNG states as tensors / JSON text,
                    the epoch and the metric rows; plain data only, read with torch.load(weights_only=True);
                    written to a temporary file and renamed, so a kill never leaves half a checkpoint
    metrics.csv / metrics.jsonl   one row per epoch (epoch, lr, train loss/accuracy, test metric, seconds, img/s)
    model/          the final network as an eeea checkpoint (genome.yaml + weights.pt): eeea export, teachers
    result.json     final test figures and their split (test or held-out), params, MACs, genome key, recipe and the
                    training budget, seed, device, torch version, duration
    log.txt         what happened, one line per event

Resume restores every state the next epoch reads (weights, optimizer, schedule, torch's global RNG, the SER crop RNG;
image batches draw from a generator seeded by (seed, epoch)), so on the CPU a resumed run ends bit for bit where an
uninterrupted one does.
"""
from __future__ import annotations

import csv
import io
import json
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..checkpoint import GENOME_FILE, WEIGHTS_FILE, save_checkpoint
from ..counting import count_macs, count_params
from ..data.final import split_kind
from ..errors import UserError
from ..progress import hide_progress
from ..files import read_json
from ..outputs import missing_folders
from ..rundir import CONFIG, LOG, RunDir, check_code_task
from ..runtime import candidate_threads, resolve_device, resolve_levers
from ..spaces import get_space
from ..tasks import Training
from ..tasks.training import Diverged, cpu_amp_guard
from ..units import format_fields
from ..zoo import resolve
from .config import RESUME_FREE, check_resume, make_task, resolve_train_config

CHECKPOINT, RESULT, MODEL = "checkpoint.pt", "result.json", "model"
METRICS_CSV, METRICS_JSONL = "metrics.csv", "metrics.jsonl"
#: decimals of the log's figures other than the default 4 (errors, accuracies, CCC, losses)
LOG_DECIMALS = {"lr": 6, "seconds": 1, "img_per_s": 1, "clips_per_s": 1, "samples_per_s": 1}
#: metric columns that measure the machine, not the training (they differ between otherwise identical runs)
#: the training rate's name by the task's input rank: images (3), audio clips (1), anything else
RATE = {3: "img_per_s", 1: "clips_per_s"}
TIMING = ("seconds", *RATE.values(), "samples_per_s")


class TrainRun(RunDir):
    """A training run's directory (see the module docstring for its files)."""

    files = (CONFIG, CHECKPOINT, RESULT, LOG, MODEL, METRICS_CSV, METRICS_JSONL)
    progress = (CHECKPOINT, RESULT)
    #: the final network's files, as eeea writes them into MODEL
    model_files = (f"{MODEL}/{WEIGHTS_FILE}", f"{MODEL}/{GENOME_FILE}")

    def legacy_files(self) -> list[str]:
        return super().legacy_files() + [n for n in self.model_files
                                         if (self.path / n).is_file() and not (self.path / n).is_symlink()]

    def finished(self) -> dict[str, Any] | None:
        """The result of a run that trained to its end (its result.json), else None."""
        path = self.path / RESULT
        if not path.is_file():
            return None
        result = read_json(path, "the run's result")
        if not isinstance(result, dict):
            raise UserError(f"{path}: expected a JSON object (damaged?); move it away to train the run's last "
                            f"steps again")
        return result


def train_command(out: str | None, resume: str | None, config_file: str | None, flags: Mapping[str, Any], *,
                  force: bool = False, quiet: bool = False, stop_after: int | None = None) -> dict[str, Any] | None:
    """Start (``out``) or continue (``resume``) a training run; returns the content of result.json, or None when
    ``stop_after`` (a number of epochs) stopped it early, resumable like an interrupted run."""
    if resume:
        run = Path(resume)
        if not (run / CONFIG).is_file():
            raise UserError(f"--resume {run}: not a training run directory (no {CONFIG})")
        if out and Path(out).resolve() != run.resolve():
            raise UserError("--out and --resume name different directories; --resume RUN_DIR alone continues a run")
        if config_file:
            raise UserError("--config cannot change a resumed run; --resume RUN_DIR uses the run's config.yaml")
        held = TrainRun.open(run)  # locked until this process ends
        stored = held.config()
        check_code_task(stored.get("dataset"), flags.get("dataset"), run, "--task")
        check_resume(stored, flags, str(run))
        done = held.finished()
        if done is not None:  # nothing left to train: the run is reported as it is, and nothing is written
            held.unlock()
            return {**done, "already_finished": True}
        held.check_resumable()
        config = {**stored, **{k: v for k, v in flags.items() if k in RESUME_FREE}}
        result = Trainer(run, config, quiet).run(stop_after)
        held.unlock()  # on an error or Ctrl-C the CLI reports the held run, then releases it
        return result
    if not out:
        raise UserError("--out RUN_DIR is required (or --resume RUN_DIR)")
    config = resolve_train_config(config_file, flags)
    # everything is validated before the run directory is written: a failed start leaves nothing behind
    TrainRun.check_new(out, force)
    trainer = Trainer(Path(out), config, quiet)
    trainer.prepare()
    made = missing_folders(Path(out))
    run = TrainRun.create(out, config, force)
    try:
        result = trainer.run(stop_after)
    except UserError:
        if not (run.path / CHECKPOINT).exists():  # refused before its first epoch ended: no run folder stays
            run.created = made
            run.discard()
        raise
    run.unlock()
    return result


class Trainer:
    """One training run: builds the task's data, the model and the task's :class:`~eeea.tasks.Training`, then the
    epoch loop (saving the state after every epoch). Nothing here depends on which task trains."""

    def __init__(self, run: Path, config: Mapping[str, Any], quiet: bool = False) -> None:
        self.run_dir, self.config, self.quiet = run, dict(config), quiet
        self.files = TrainRun(run)  # where the run's files are written and recorded (nothing is, until run())
        self.device = resolve_device(str(config["device"]))
        # the search's rule (one thread unless --threads): on a small shared CPU torch's default of one thread per
        # core trained 3x slower (docs/decisions.md), and a final training then runs as its search's candidates did
        torch.set_num_threads(candidate_threads(config.get("threads")))
        self.genome, self.default_size = resolve(config["arch"])
        self.space = get_space(self.genome.space)
        self.task, self.final_inputs = make_task(config)
        self.levers = resolve_levers(str(config["amp"]), config["channels_last"], bool(config["compile"]),
                                     self.device, self.task.autocast)
        self.amp = self.levers.amp

    def log(self, message: str) -> None:
        self.files.log_line(message)
        if not self.quiet:
            from tqdm import tqdm

            tqdm.write(message)

    def unused_size_keys(self) -> list[str]:
        """Size options of the config that this genome's space does not take (a recipe's channels for a MobileNet)."""
        keys = self.space.size_keys
        return sorted(set(self.config["size"]) - set(keys)) if keys else []

    def model_size(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The network size: the genome's default, the config's ``size`` (keys the space takes), then the task's
        ``overrides`` (the classifier width, a layout) where the space takes them."""
        size = dict(self.default_size)
        unused = self.unused_size_keys()
        size.update({k: v for k, v in self.config["size"].items() if k not in unused})
        keys = self.space.size_keys
        size.update({k: v for k, v in overrides.items() if not keys or k in keys})
        return self.space.size(**size)

    def prepare(self) -> None:
        """Load the data and check that the network runs on it (no file of the run is written)."""
        if getattr(self, "test_split", None) is not None:
            return
        size = self.model_size(self.task.final_size)
        self.space.check_memory(self.genome, batch=2, **size)  # before the data loads: an impossible size is a line
        shape = self.space.genome_input_shape(self.genome, **size)
        self.test_split = self.task.prepare_final(self.device, shape, **self.final_inputs)
        self.data_notes = self.task.check_data()
        self.size = self.model_size({**self.task.final_size, **self.task.size_overrides()})
        probe = self.space.build(self.genome, **self.size).to(self.device)
        _check_forward(probe, self.space.genome_input_shape(self.genome, **self.size), self.device)

    def run(self, stop_after: int | None = None) -> dict[str, Any] | None:
        cfg = self.config
        self.prepare()
        test_split = self.test_split
        for line in self.data_notes:
            self.log(line)
        torch.manual_seed(int(cfg["seed"]))
        model = self.space.build(self.genome, **self.size).to(self.device)
        budget = {k: v for k, v in cfg["train"].items() if k != "max_steps"}
        training = self.task.start(model, budget, int(cfg["seed"]), max_steps=cfg["train"].get("max_steps"),
                                   **self.levers.options())
        state = self._load_state()
        rows: list[dict[str, Any]] = []
        first = 0
        if state is not None:
            training.model.load_state_dict(state["model"])
            training.load_state_dict(state)
            torch.set_rng_state(state["rng"]["torch"])
            if self.device.type == "cuda" and state["rng"]["cuda"]:
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
            first, rows = int(state["epoch"]), list(state["metrics"])
            self.log(f"resumed after epoch {first} of {training.epochs}")
        else:
            if self.unused_size_keys():
                self.log(f"note: space {self.space.name} takes no {', '.join(self.unused_size_keys())}; ignored")
            self.log(f"training {self.genome.name or self.genome.key} ({self.genome.to_text()}) on {cfg['dataset']}, "
                     f"recipe {cfg['recipe']}, {training.epochs} epochs, device {self.device}, seed {cfg['seed']}; "
                     f"test figures: {test_split}")
        try:
            with cpu_amp_guard(self.device, self.amp):
                stopped = self._epochs(training, first, rows, stop_after)
        except Diverged as e:
            again = f"; --resume {self.run_dir} restarts from the last good epoch" if rows else ""
            raise UserError(f"training diverged in epoch {len(rows) + 1} ({e}); try a lower --lr{again}") from None
        return None if stopped else self._finish(training, test_split, rows, sum(r["seconds"] for r in rows))

    def _epochs(self, job: Training, first: int, rows: list[dict[str, Any]], stop_after: int | None) -> bool:
        """Train epochs ``first`` .. end, saving after each; True when ``stop_after`` stopped the run."""
        from tqdm import tqdm

        for epoch in range(first, job.epochs):
            if stop_after is not None and epoch >= stop_after:
                self.log(f"stopped after epoch {epoch} as asked; --resume {self.run_dir} continues")
                return True
            t = time.time()
            lr = job.opt.param_groups[0]["lr"]
            with tqdm(total=job.steps, desc=f"epoch {epoch + 1}/{job.epochs}", unit="batch", disable=hide_progress(self.quiet),
                      leave=False) as bar:
                train, samples = job.train_epoch(epoch, bar)
            seconds_train = time.time() - t
            row = {"epoch": epoch + 1, "lr": lr, **train, **job.score()}
            seconds = time.time() - t
            rate = RATE.get(self.task.input_rank, "samples_per_s")
            row.update({"seconds": round(seconds, 3), rate: round(samples / max(seconds_train, 1e-9), 1)})
            rows.append(row)
            self._save_state(job, epoch + 1, rows)
            self._write_metrics(rows)
            self.log(format_fields(row, LOG_DECIMALS))
        return False

    # state ---------------------------------------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any] | None:
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a damaged file: one line, not a traceback
            raise UserError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0][:200]})") from None

    def _save_state(self, job: Training, epoch: int, rows: list[dict[str, Any]]) -> None:
        state = {
            "epoch": epoch,
            "model": job.model.state_dict(),
            **job.state_dict(),  # optimizer, scheduler, extra
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
            "metrics": rows,
        }
        self.files.write_file(CHECKPOINT, lambda tmp: torch.save(state, tmp))

    def _write_metrics(self, rows: list[dict[str, Any]]) -> None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        self.files.write_text(METRICS_CSV, buf.getvalue())
        self.files.write_text(METRICS_JSONL, "".join(json.dumps(r) + "\n" for r in rows))

    def _finish(self, job: Training, test_split: str, rows: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        final = {k: v for k, v in rows[-1].items() if k not in ("epoch", "lr", *TIMING)} if rows else {}
        size = self.size
        result = {
            "dataset": self.config["dataset"],
            "arch": self.config["arch"],
            "genome_name": self.genome.name,
            "genome_key": self.genome.key,
            "genome": self.genome.to_text(),
            "recipe": self.config["recipe"],
            "seed": self.config["seed"],
            "epochs": job.epochs,
            "max_steps": self.config["train"].get("max_steps"),
            "train": self.config["train"],  # the whole budget: eeea table tells the paper's recipe from the others
            "autoaugment": bool(self.config.get("autoaugment")),
            **final,
            "test_split": test_split,
            "split": split_kind(test_split),  # "test", or "held-out" when part of the training set stood in
            "params": count_params(self.genome, size),
            "macs": count_macs(self.genome, size),
            "size": size,
            "device": str(self.device),
            "amp": str(self.amp).replace("torch.", "") if self.amp else "none",
            "torch": torch.__version__,
            "duration_s": round(elapsed, 1),  # training + evaluation, summed over epochs (resumes included)
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        meta = {"dataset": result["dataset"], "recipe": result["recipe"], "seed": result["seed"],
                **{k: v for k, v in final.items() if k.startswith(("test", "ccc", "1-ccc"))}}
        if self.task.classes:
            meta["classes"] = self.task.classes
        if getattr(self.task, "dims", None):  # the emotion dimensions the outputs hold (an exported file names them)
            meta["dims"] = list(self.task.dims)
        self.files.check_replaceable(*TrainRun.model_files, RESULT)
        save_checkpoint(self.run_dir / MODEL, self.genome, job.model.eval(), size, meta, force=True,
                        record=lambda name, tmp: self.files.ledger.record(f"{MODEL}/{name}", tmp))
        self.files.write_text(RESULT, json.dumps(result, indent=2) + "\n")
        self.log("finished: " + format_fields(final, LOG_DECIMALS, sep=", "))
        return result


def _check_forward(model: nn.Module, shape: tuple[int, ...], device: torch.device) -> None:
    """One training-mode forward pass on a copy (the model's BN statistics stay untouched): a network that cannot
    run at this input size fails here with one line instead of a traceback in the first step."""
    import copy

    probe = copy.deepcopy(model).train()
    try:
        with torch.no_grad():
            probe(torch.zeros(2, *shape, device=device))
    except RuntimeError as e:
        raise UserError(f"the network cannot run at input {'x'.join(map(str, shape))} ({str(e).splitlines()[0][:160]}); "
                        f"use a larger --input-size, or --no-auxiliary for cell networks") from None
