"""Export a network to ONNX, int8 ONNX or TorchScript, and check the exported file against torch.

Any genome exports (image or audio): the example input comes from the space's ``input_shape``. Audio models take raw
audio ``[batch, samples]`` with both axes dynamic; image models ``[batch, C, H, W]`` with a dynamic batch.

int8 goes through onnxruntime quantization, trying both static (QDQ, calibrated on real inputs) and dynamic
quantization; each is scored by the CCC between its outputs and torch's on the check inputs (mean over outputs).
Static is kept when it reaches 0.99 (it runs much faster), else dynamic if that does; otherwise the export fails. Submodules named in a model's ``float_modules`` (the audio front end: its log of a power spectrum does not
survive int8) stay in float.

Check inputs: for audio, whole clips of the held-out speakers of the embedded EmoDB subset (calibration uses the
other speakers); for images, seeded Gaussian noise.
"""
from __future__ import annotations

import logging
import shutil
import warnings
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .errors import UserError
from .genome import Genome

FORMATS = ("onnx", "onnx-int8", "torchscript")
OPSET = 17
INT8_MIN_CCC = 0.99
# Only ops with weights go int8: quantising activations-only ops (Softmax over ~1000 frames, the Gram product) rounds
# attention weights to zero and costs far more accuracy than it saves bytes.
WEIGHT_OPS = ["Conv", "Gemm"]


@dataclass
class ExportReport:
    path: Path
    format: str
    bytes: int
    max_abs_diff: float | None = None  # fp32 ONNX / TorchScript vs torch
    int8_ccc: dict[str, float] = field(default_factory=dict)  # per int8 method: CCC(torch, int8)
    int8_method: str | None = None

    def lines(self) -> list[str]:
        out = [f"wrote {self.path} ({self.format}): {self.bytes:,} bytes"]
        if self.max_abs_diff is not None:
            out.append(f"check: max |exported - torch| = {self.max_abs_diff:.2e}")
        for method, value in self.int8_ccc.items():
            mark = " (kept)" if method == self.int8_method else ""
            out.append(f"check: CCC(torch, int8 {method}) = {value:.4f}{mark}")
        return out


def load_exportable(arch: str | Path, **size: Any) -> tuple[nn.Module, Genome, dict[str, Any], bool]:
    """``(model, genome, size, trained)`` from a checkpoint directory or any genome (zoo name, file, text)."""
    from .checkpoint import is_checkpoint, load_checkpoint
    from .spaces import get_space
    from .zoo import resolve

    if is_checkpoint(arch):
        genome, ck_size, model = load_checkpoint(arch)
        return model, genome, get_space(genome.space).size(**{**ck_size, **size}), True
    genome, default = resolve(arch)
    space = get_space(genome.space)
    full = space.size(**{**default, **size})
    return space.build(genome, **full).eval(), genome, full, False


def check_inputs(input_shape: Sequence[int], n: int = 16, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(calibration, check)`` inputs, each a list of single-sample batches (see the module docstring)."""
    if len(input_shape) == 1:  # raw audio
        from .data.emodb import TEST_SPEAKERS, load_emodb

        clips = load_emodb()
        train, test = clips.split_by_speaker(TEST_SPEAKERS)
        pick = lambda s: [w[None].astype(np.float32) for w in s.waves[: 2 * n]]  # noqa: E731
        return pick(train), pick(test)
    rng = np.random.default_rng(seed)
    noise = lambda: [rng.standard_normal((1, *input_shape), dtype=np.float32) for _ in range(n)]  # noqa: E731
    return noise(), noise()


def export(model: nn.Module, input_shape: Sequence[int], out: str | Path, fmt: str = "onnx", force: bool = False,
           inputs: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> ExportReport:
    """Write ``model`` to ``out`` in ``fmt`` and check it against torch; raises UserError when a check fails."""
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    if out.exists() and not force:
        raise UserError(f"{out} exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise UserError(f"{out.parent} is not a directory")
    model = model.eval().cpu()
    calibration, check = inputs or check_inputs(input_shape)
    with torch.no_grad():
        reference = np.concatenate([model(torch.from_numpy(x)).numpy() for x in check])
    if fmt == "torchscript":
        example = torch.from_numpy(check[0])
        with torch.no_grad():
            scripted = torch.jit.trace(model, example)
        scripted.save(str(out))
        loaded = torch.jit.load(str(out))
        with torch.no_grad():
            got = np.concatenate([loaded(torch.from_numpy(x)).numpy() for x in check])
        return _fp32_report(out, fmt, got, reference)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx" if fmt == "onnx-int8" else out
        export_onnx(model, input_shape, fp32)
        report = _fp32_report(fp32, "onnx", run_onnx(fp32, check), reference)
        if fmt == "onnx":
            return report
        return _int8(model, fp32, out, calibration, check, reference)


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: Path) -> None:
    """fp32 ONNX with a dynamic batch (and, for raw audio, a dynamic length)."""
    axes = {0: "batch", 1: "samples"} if len(input_shape) == 1 else {0: "batch"}
    example = torch.zeros(1, *input_shape)
    if len(input_shape) == 1:
        example = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
    # The TorchScript-based exporter handles the dynamic audio length; its deprecation notices are not the user's concern.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": axes, "output": {0: "batch"}}, opset_version=OPSET, dynamo=False)


def onnx_session(path: str | Path, threads: int = 1) -> Any:
    """An onnxruntime CPU session with ``threads`` intra-op threads (0: onnxruntime's default) and one inter-op."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: str | Path | Any, inputs: Sequence[np.ndarray], threads: int = 1) -> np.ndarray:
    """Outputs of an ONNX file (or an open session) for each input, concatenated along the batch."""
    session = path if hasattr(path, "run") else onnx_session(path, threads)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x})[0] for x in inputs])


def _fp32_report(path: Path, fmt: str, got: np.ndarray, reference: np.ndarray) -> ExportReport:
    diff = float(np.max(np.abs(got - reference)))
    if not np.allclose(got, reference, rtol=1e-3, atol=1e-4):
        raise UserError(f"exported {fmt} disagrees with torch (max |diff| {diff:.2e}); not usable")
    return ExportReport(path, fmt, path.stat().st_size, diff)


def compact_names(path: Path) -> None:
    """Rewrite an ONNX file with short tensor names, no node names and no intermediate shape records.

    Quantisation adds a QuantizeLinear/DequantizeLinear pair per tensor, each carrying long exporter names
    (``/blocks/blocks.3/depthwise/depthwise.2/HardSwish_output_0_DequantizeLinear``): on a 37K-parameter MobileNet
    the names outweighed the int8 weights. Graph inputs and outputs keep their names; the computation is unchanged.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {""}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for init in graph.initializer:
        init.name = short(init.name)
    for node in graph.node:
        node.name = ""
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
        if any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute):  # subgraphs may name outer tensors
            raise ValueError("compact_names does not handle subgraphs")
    del graph.value_info[:]
    onnx.save(model, str(path))


def float_nodes(model: nn.Module, onnx_path: Path) -> list[str]:
    """Nodes of ``model``'s ONNX file that belong to its ``float_modules`` (kept in float when quantising)."""
    import onnx

    prefixes = tuple(f"/{name}/" for name in getattr(model, "float_modules", ()))
    return [n.name for n in onnx.load(str(onnx_path)).graph.node if prefixes and n.name.startswith(prefixes)]


def _int8(model: nn.Module, fp32: Path, out: Path, calibration: list[np.ndarray], check: list[np.ndarray],
          reference: np.ndarray) -> ExportReport:
    return _quantise_and_pick(fp32, out, check, reference, float_nodes(model, fp32), calibration)


def quantize_file(fp32: Path, out: Path, method: str, calibration: list[np.ndarray], exclude: list[str]) -> None:
    """Quantise an fp32 ONNX file to int8 as :func:`export` does: ``static`` (QDQ, per-channel weights, activations
    calibrated on ``calibration``) or ``dynamic``; only :data:`WEIGHT_OPS`, the ``exclude`` nodes kept in float."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"input": x} for x in calibration])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # silences onnxruntime's generic "consider pre-processing" advice
    try:
        if method == "static":
            quantize_static(str(fp32), str(out), Reader(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            nodes_to_exclude=exclude, op_types_to_quantize=WEIGHT_OPS)
        else:
            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=exclude, op_types_to_quantize=WEIGHT_OPS)
    finally:
        root.setLevel(level)


def _quantise_and_pick(fp32: Path, out: Path, check: list[np.ndarray], reference: np.ndarray, exclude: list[str],
                       calibration: list[np.ndarray]) -> ExportReport:
    """Quantise statically (calibrated on ``calibration``) and dynamically; keep the one closest to torch."""
    from .metrics import ccc

    scores: dict[str, float] = {}
    candidates = {method: fp32.parent / f"{method}.onnx" for method in ("static", "dynamic")}
    for method, path in candidates.items():
        quantize_file(fp32, path, method, calibration, exclude)
    for method, path in candidates.items():
        try:
            compact_names(path)
            got = run_onnx(path, check)
        except Exception:  # a quantised graph onnxruntime cannot run (an op without an int8 kernel) simply loses
            scores[method] = float("-inf")
            continue
        scores[method] = float(ccc(got.astype(np.float64), reference.astype(np.float64)).mean())
    # Both usually keep CCC >= 0.99; static wins ties because its QLinearConv kernels run ~5x faster than dynamic
    # quantisation's per-call activation requantisation (benchmarks/RESULTS.md). Dynamic is the fallback.
    passing = [m for m in candidates if scores[m] >= INT8_MIN_CCC]
    best = passing[0] if passing else max(scores, key=scores.__getitem__)
    shown = {k: v for k, v in scores.items() if v != float("-inf")}
    if scores[best] < INT8_MIN_CCC:
        raise UserError(f"int8 outputs disagree with torch: CCC {', '.join(f'{k} {v:.3f}' for k, v in shown.items())}"
                        f" (need >= {INT8_MIN_CCC}); export fp32 with --format onnx instead")
    shutil.move(str(candidates[best]), str(out))
    return ExportReport(out, "onnx-int8", out.stat().st_size, None, shown, best)
