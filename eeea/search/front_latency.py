"""Measured latency of what ships: each front member exported to ONNX and timed end to end with onnxruntime.

fp32 and int8: the member's network at the evaluation size (the size budgets are counted at), with its trained
weights when its checkpoint has that size (latency barely depends on the weights, so other members are timed with
fresh ones). Both files come from :func:`eeea.export.export`, the function behind ``eeea export``, with its check
inputs: the timed int8 file is the one ``eeea export --format onnx-int8`` writes (its quantisation method chosen by
export's rule), and a member whose int8 outputs fail export's accuracy check has no int8 time, its ``int8`` field
says so. Timing follows :mod:`eeea.latency`'s protocol (batch 1, one thread, warm-up, a low quantile of timed runs).
The files are temporary.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..checkpoint import is_checkpoint, load_checkpoint
from ..errors import UserError
from ..export import check_inputs, export
from ..genome import Genome
from ..latency import Timer
from ..spaces.base import SearchSpace
from .archive import SearchRun

#: the record keys of the two measurements (microseconds)
MEASURED = ("measured_fp32", "measured_int8")


def measure_front(front: Sequence[Mapping[str, Any]], space: SearchSpace, size: Mapping[str, Any], run: SearchRun,
                  quiet: bool = False, timer: Timer | None = None) -> list[dict[str, Any]]:
    """The front's records with ``measured_fp32`` and ``measured_int8`` in microseconds, and ``int8``: the method
    export kept (``static`` or ``dynamic``) or ``failed check`` (then no int8 time). ``timer``: onnxruntime, one thread
    by default; the latency table's (:meth:`~eeea.latency.LatencyTable.timer`), so measured and predicted compare."""
    timer = timer or Timer("onnxruntime", 1)
    out: list[dict[str, Any]] = []
    inputs: dict[tuple, Any] = {}  # export's (calibration, check) inputs per input shape
    log = run.logger()
    with tempfile.TemporaryDirectory() as tmp:
        for r in tqdm(front, desc="timing the front's ONNX", unit="net", leave=False, disable=quiet):
            r = dict(r)
            out.append(r)
            if r.get("status") != "ok":
                continue
            genome = Genome.from_text(r["genome"])
            shape = tuple(space.genome_input_shape(genome, **size))
            model = _trained_at(run, r.get("checkpoint"), space, size) or space.build(genome, **size)
            example = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
            if shape not in inputs:
                inputs[shape] = check_inputs(shape)
            fp32, int8 = Path(tmp) / f"{r['key']}.onnx", Path(tmp) / f"{r['key']}.int8.onnx"
            try:
                export(model, shape, fp32, fmt="onnx", force=True, inputs=inputs[shape])
            except UserError as e:  # the fp32 file disagrees with torch: nothing a user would ship to time
                r["int8"] = "fp32 failed check"
                log.warning(f"front member {r['key']}: {e}")
                continue
            r["measured_fp32"] = round(timer.onnx_us(fp32, example), 1)
            try:
                report = export(model, shape, int8, fmt="onnx-int8", force=True, inputs=inputs[shape])
            except UserError as e:
                r["int8"] = "failed check"
                log.info(f"front member {r['key']}: no int8 time, {e}")
                continue
            r["int8"] = report.int8_method
            r["measured_int8"] = round(timer.onnx_us(int8, example), 1)
    return out


def _trained_at(run: SearchRun, checkpoint: str | None, space: SearchSpace, size: Mapping[str, Any]) -> Any:
    """The checkpoint's trained model when it was trained at ``size``, else None."""
    if not checkpoint or not is_checkpoint(run.path / checkpoint):
        return None
    _, trained_size, model = load_checkpoint(run.path / checkpoint)
    return model if space.size(**trained_size) == dict(size) else None
