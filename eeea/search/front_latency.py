"""Measured latency of what ships: each front member exported to ONNX and timed end to end with onnxruntime.

fp32: the member's network at the evaluation size (the size budgets are counted at; an fp32 network's latency does
not depend on its weights, so untrained members are timed too). int8: only members with trained weights at that size
(a checkpoint), exported exactly as ``eeea export --format onnx-int8`` does (its accuracy check included; a member
whose int8 outputs fail the check gets no int8 figure). Timing follows :mod:`eeea.latency`'s protocol (batch 1, one
thread, warm-up, median). The files are temporary: ``eeea export`` writes the ones to keep.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..checkpoint import is_checkpoint, load_checkpoint
from ..errors import UserError
from ..export import check_inputs, export, export_onnx
from ..genome import Genome
from ..latency import Timer
from ..spaces.base import SearchSpace
from .archive import SearchRun

#: the record keys of the two measurements (microseconds)
MEASURED = ("measured_fp32", "measured_int8")


def measure_front(front: Sequence[Mapping[str, Any]], space: SearchSpace, size: Mapping[str, Any], run: SearchRun,
                  quiet: bool = False) -> list[dict[str, Any]]:
    """The front's records with ``measured_fp32`` (and, for trained members, ``measured_int8``) in microseconds."""
    timer = Timer("onnxruntime", 1)
    log = run.logger()
    out: list[dict[str, Any]] = []
    inputs: tuple[list[np.ndarray], list[np.ndarray]] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for r in tqdm(front, desc="timing the front's ONNX", unit="net", leave=False, disable=quiet):
            r = dict(r)
            out.append(r)
            if r.get("status") != "ok":
                continue
            genome = Genome.from_text(r["genome"])
            shape = tuple(space.genome_input_shape(genome, **size))
            example = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
            fp32 = Path(tmp) / f"{r['key']}.onnx"
            export_onnx(space.build(genome, **size).eval(), shape, fp32)
            r["measured_fp32"] = round(timer.onnx_us(fp32, example), 1)
            checkpoint = run.path / r["checkpoint"] if r.get("checkpoint") else None
            if checkpoint is None or not is_checkpoint(checkpoint):
                continue
            _, trained_size, model = load_checkpoint(checkpoint)
            if space.size(**trained_size) != dict(size):
                continue  # trained at a proxy size: its int8 file is not what ships
            int8 = Path(tmp) / f"{r['key']}.int8.onnx"
            inputs = inputs or check_inputs(shape)
            try:
                export(model, shape, int8, "onnx-int8", inputs=inputs)
            except UserError as e:
                log.info(f"front member {r['key']}: no int8 latency ({e})")
                continue
            r["measured_int8"] = round(timer.onnx_us(int8, example), 1)
    return out
