"""Measured latency of what ships: each front member exported to ONNX and timed end to end with onnxruntime.

fp32 and int8: the member's network at the evaluation size (the size budgets are counted at), with its trained
weights when its checkpoint has that size (latency barely depends on the weights, so other members are timed with
fresh ones). int8 is quantised as ``eeea export --format onnx-int8`` quantises by preference (static QDQ, the front end
in float), calibrated on :data:`CALIBRATION` inputs and without export's accuracy check, which is what keeps this cheap
(a few seconds per member); ``eeea export`` is the step that checks the file it ships. Timing follows
:mod:`eeea.latency`'s protocol (batch 1, one thread, warm-up, median). The files are temporary.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..checkpoint import is_checkpoint, load_checkpoint
from ..export import check_inputs, export_onnx, float_nodes, quantize_file
from ..genome import Genome
from ..latency import Timer
from ..spaces.base import SearchSpace
from .archive import SearchRun

#: the record keys of the two measurements (microseconds)
MEASURED = ("measured_fp32", "measured_int8")
#: calibration inputs of the int8 quantisation
CALIBRATION = 4


def measure_front(front: Sequence[Mapping[str, Any]], space: SearchSpace, size: Mapping[str, Any], run: SearchRun,
                  quiet: bool = False) -> list[dict[str, Any]]:
    """The front's records with ``measured_fp32`` (and, for trained members, ``measured_int8``) in microseconds."""
    timer = Timer("onnxruntime", 1)
    out: list[dict[str, Any]] = []
    calibration: list[np.ndarray] | None = None
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
            fp32, int8 = Path(tmp) / f"{r['key']}.onnx", Path(tmp) / f"{r['key']}.int8.onnx"
            export_onnx(model.eval(), shape, fp32)
            r["measured_fp32"] = round(timer.onnx_us(fp32, example), 1)
            calibration = calibration or check_inputs(shape, n=CALIBRATION)[0][:CALIBRATION]
            quantize_file(fp32, int8, "static", calibration, float_nodes(model, fp32))
            r["measured_int8"] = round(timer.onnx_us(int8, example), 1)
    return out


def _trained_at(run: SearchRun, checkpoint: str | None, space: SearchSpace, size: Mapping[str, Any]) -> Any:
    """The checkpoint's trained model when it was trained at ``size``, else None."""
    if not checkpoint or not is_checkpoint(run.path / checkpoint):
        return None
    _, trained_size, model = load_checkpoint(run.path / checkpoint)
    return model if space.size(**trained_size) == dict(size) else None
