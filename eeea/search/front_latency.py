"""Measured latency of what ships: each front member exported to ONNX and timed end to end with onnxruntime.

fp32 and int8: the member's network at the evaluation size (the size budgets are counted at), with its trained
weights when its checkpoint has that size (latency barely depends on the weights, so other members are timed with
fresh ones). The files come from :func:`eeea.export.export`, the function behind ``eeea export``, with its check
inputs and its default ``--quantization auto``: the int8 time is that of the file ``eeea export --format onnx-int8``
keeps (the fastest int8 method that passes the accuracy check), its ``int8`` field names the method, and a member
whose int8 file is slower than its fp32 file says so there. A member whose int8 outputs fail export's check has no
int8 time. Timing follows :mod:`eeea.latency`'s protocol (batch 1, one thread, warm-up, a low quantile of timed
runs). The files are temporary.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..checkpoint import is_checkpoint, load_checkpoint
from ..errors import UserError
from ..export import check_inputs, export
from ..genome import Genome
from ..latency import Timer
from ..progress import Progress
from ..spaces.base import SearchSpace
from .archive import SearchRun

#: the record keys of the two measurements (microseconds)
MEASURED = ("measured_fp32", "measured_int8")
#: the ``int8`` field of a member whose kept int8 file runs slower than its fp32 file
SLOWER = "slower than fp32"


def measure_front(front: Sequence[Mapping[str, Any]], space: SearchSpace, size: Mapping[str, Any], run: SearchRun,
                  quiet: bool = False, timer: Timer | None = None) -> list[dict[str, Any]]:
    """The front's records with ``measured_fp32`` and ``measured_int8`` in microseconds, and ``int8``: the method
    export kept (``static`` or ``dynamic``, followed by ``, slower than fp32`` when it is) or ``failed check`` (then
    no int8 time). ``timer``: onnxruntime, one thread by default; the latency table's
    (:meth:`~eeea.latency.LatencyTable.timer`), so measured and predicted compare."""
    timer = timer or Timer("onnxruntime", 1)
    out: list[dict[str, Any]] = []
    inputs: dict[tuple, Any] = {}  # export's (calibration, check) inputs per input shape
    log = run.logger()
    with tempfile.TemporaryDirectory() as tmp, Progress("timing the front's ONNX (fp32 and int8)", len(front), "nets",
                                                        quiet=quiet, each=True, leave=False) as progress:
        for r in front:
            r = dict(r)
            out.append(r)
            if r.get("status") == "ok":
                _measure(r, space, size, run, timer, inputs, Path(tmp), log)
            progress.update(1, r["key"] + (f" fp32 {r['measured_fp32']:.0f}us" if "measured_fp32" in r else "")
                            + (f", int8 {r['measured_int8']:.0f}us ({r['int8']})" if "measured_int8" in r else ""))
    return out


def _measure(r: dict[str, Any], space: SearchSpace, size: Mapping[str, Any], run: SearchRun, timer: Timer,
             inputs: dict[tuple, Any], tmp: Path, log: Any) -> None:
    """Export one front member (int8, which times its fp32 file too; fp32 alone when int8 fails) into ``r``."""
    genome = Genome.from_text(r["genome"])
    shape = tuple(space.genome_input_shape(genome, **size))
    model = _trained_at(run, r.get("checkpoint"), space, size) or space.build(genome, **size)
    if shape not in inputs:
        inputs[shape] = check_inputs(shape)
    fp32, int8 = tmp / f"{r['key']}.onnx", tmp / f"{r['key']}.int8.onnx"
    try:
        report = export(model, shape, int8, fmt="onnx-int8", force=True, inputs=inputs[shape], timer=timer)
    except UserError as e:
        try:  # no int8 file passes: is the fp32 file itself right?
            export(model, shape, fp32, fmt="onnx", force=True, inputs=inputs[shape])
        except UserError as e32:  # the fp32 file disagrees with torch: nothing a user would ship to time
            r["int8"] = "fp32 failed check"
            log.warning(f"front member {r['key']}: {e32}")
            return
        r["int8"] = "failed check"
        log.info(f"front member {r['key']}: no int8 time, {e}")
        example = np.ascontiguousarray(inputs[shape][1][0][:1])
        r["measured_fp32"] = round(timer.onnx_us(fp32, example), 1)
        return
    r["measured_fp32"], r["measured_int8"] = report.latency_us["fp32"], report.latency_us[report.int8_method]
    r["int8"] = report.int8_method + (f", {SLOWER}" if report.slower_than_fp32 else "")
    log.info(f"front member {r['key']}: {report.reason}")


def _trained_at(run: SearchRun, checkpoint: str | None, space: SearchSpace, size: Mapping[str, Any]) -> Any:
    """The checkpoint's trained model when it was trained at ``size``, else None."""
    if not checkpoint or not is_checkpoint(run.path / checkpoint):
        return None
    _, trained_size, model = load_checkpoint(run.path / checkpoint)
    return model if space.size(**trained_size) == dict(size) else None
