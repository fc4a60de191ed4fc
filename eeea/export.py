"""Export a network to ONNX, int8 ONNX or TorchScript, and check the exported file against torch.

Any genome exports (image or audio): the example input comes from the space's ``input_shape``. The file explains itself:

* named tensors (:class:`Interface`): audio models take ``audio`` ``[batch, samples]`` (float, mono, in [-1, 1] at
  16 kHz; both axes dynamic) and give one value per emotion dimension, named after the dimensions the model was trained
  on (``arousal_dominance_valence``, or ``arousal`` for a student of an arousal-only corpus); image classifiers take
  ``image`` ``[batch, 3, H, W]`` (dynamic batch) and give ``logits``;
* ONNX ``metadata_props`` (:func:`describe`): genome text and key, space, size, eeea version, what the input is (sample
  rate; resolution and normalisation) and what the output means; int8 files add the quantisation method and the
  figure of its check.

Checks: the exported file against torch on real inputs of the task. Audio: whole clips of the held-out speakers of the
embedded EmoDB subset (calibration uses the other speakers), compared by CCC (mean over outputs). Classifiers:
:data:`CHECK_IMAGES` images of the embedded CIFAR-10 subset (calibration uses others), resized to the network's
resolution and normalised as its training normalised them, compared by top-1 agreement and the absolute logit error.
fp32 ONNX / TorchScript must match torch (allclose). int8 goes through onnxruntime quantization: static (QDQ,
calibrated on real inputs) and/or dynamic, as ``quantization`` asks (:data:`~eeea.choices.QUANTIZATIONS`). A method's
file must pass the bar (:data:`INT8_MIN_CCC`, :data:`INT8_MIN_AGREEMENT`); the passing files and the fp32 file are then
timed on this machine (:class:`~eeea.latency.Timer`, or the one given), and ``auto`` keeps the fastest passing one
(:func:`pick_int8`). Which int8 kernels win depends on the CPU and the network: dynamic int8 requantises activations on
every call and ran 13-40x slower than fp32 on small audio students, static beat fp32 on some and lost on others. The
report, and the file's metadata, say what was kept, the timings, and when the kept file is slower than fp32.
Submodules named in a model's ``float_modules`` (the audio front end: its log of a power spectrum does not survive
int8) stay in float.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .data.audio import SAMPLE_RATE
from .data.cifar import CIFAR_MEAN, CIFAR_STD
from .data.final import IMAGENET_MEAN, IMAGENET_STD
from .choices import EXPORT_FORMATS as FORMATS, QUANTIZATIONS
from .errors import UserError
from .genome import Genome
from .onnx_io import Interface, export_onnx, floats_text, interface_for, output_dims, run_onnx, set_metadata
from .outputs import check_output_file

#: int8 audio models: least mean CCC between the int8 file's and torch's outputs on the held-out clips
INT8_MIN_CCC = 0.99
#: int8 classifiers: least fraction of check images whose top-1 class the int8 file and torch agree on
INT8_MIN_AGREEMENT = 0.98
#: classifiers: images (an equal number per class of the embedded CIFAR-10 subset) the check compares outputs on, and
#: other images static quantisation calibrates activation ranges on (32 left one check image's logits 3.75 off)
CHECK_IMAGES = 100
CALIBRATION_IMAGES = 100
# Only ops with weights go int8: quantising activations-only ops (Softmax over ~1000 frames, the Gram product) rounds
# attention weights to zero and costs far more accuracy than it saves bytes.
WEIGHT_OPS = ["Conv", "Gemm"]


@dataclass
class Score:
    """How close an exported file's outputs are to torch's on the check inputs.

    ``ccc`` (audio, tensors): mean CCC over outputs; ``agreement`` (classifiers): fraction of inputs with the same top-1
    class; ``max_error`` / ``mean_error``: absolute differences of the outputs (logits). ``runs`` is False for a file
    onnxruntime could not run (it scores worst)."""

    ccc: float | None = None
    agreement: float | None = None
    max_error: float = math.inf
    mean_error: float = math.inf
    runs: bool = True

    @classmethod
    def of(cls, got: np.ndarray, reference: np.ndarray, kind: str) -> "Score":
        from .metrics import ccc

        err = np.abs(got.astype(np.float64) - reference.astype(np.float64))
        errors = dict(max_error=float(err.max()), mean_error=float(err.mean()))
        if kind == "image":
            return cls(agreement=float(np.mean(got.argmax(1) == reference.argmax(1))), **errors)
        return cls(ccc=float(ccc(got.astype(np.float64), reference.astype(np.float64)).mean()), **errors)

    def passes(self) -> bool:
        if not self.runs:
            return False
        if self.agreement is not None:
            return self.agreement >= INT8_MIN_AGREEMENT
        return self.ccc is not None and self.ccc >= INT8_MIN_CCC

    def headline(self) -> str:
        """The deciding figure: ``CCC 0.9971`` or ``top-1 agreement 0.990``."""
        if self.agreement is not None:
            return f"top-1 agreement {self.agreement:.3f}"
        return f"CCC {self.ccc:.4f}"

    def text(self) -> str:
        if not self.runs:
            return "onnxruntime cannot run it"
        if self.agreement is not None:
            return (f"top-1 agreement {self.agreement:.3f}, |logit error| max {self.max_error:.3g} "
                    f"mean {self.mean_error:.3g}")
        return f"CCC {self.ccc:.4f}"


@dataclass
class ExportReport:
    path: Path
    format: str
    bytes: int
    max_abs_diff: float | None = None  # fp32 ONNX / TorchScript vs torch
    checked_on: str = ""  # the check inputs, in words
    fp32: Score | None = None  # fp32 ONNX / TorchScript vs torch
    int8: dict[str, Score] = field(default_factory=dict)  # per int8 method: its score against torch
    int8_method: str | None = None
    reason: str = ""  # why int8_method was kept
    #: int8: microseconds per batch-1 inference on this machine of the fp32 file (``fp32``) and of each int8 method
    #: that passed the check; ``timed_with`` says how (runtime, threads, statistic, CPU)
    latency_us: dict[str, float] = field(default_factory=dict)
    timed_with: str = ""

    @property
    def slower_than_fp32(self) -> bool:
        """The kept int8 file runs slower than the fp32 file did on this machine."""
        kept, fp32 = self.latency_us.get(self.int8_method or ""), self.latency_us.get("fp32")
        return kept is not None and fp32 is not None and kept > fp32

    @property
    def int8_ccc(self) -> dict[str, float]:
        return {m: s.ccc for m, s in self.int8.items() if s.ccc is not None}

    def lines(self) -> list[str]:
        out = [f"wrote {self.path} ({self.format}): {self.bytes:,} bytes"]
        if self.max_abs_diff is not None:
            agreement = self.fp32.agreement if self.fp32 else None
            top1 = f", top-1 agreement {agreement:.3f}" if agreement is not None else ""
            out.append(f"check: max |exported - torch| = {self.max_abs_diff:.2e}{top1} on {self.checked_on}")
        for method, score in self.int8.items():
            mark = " (kept)" if method == self.int8_method else ""
            if score.agreement is not None:
                out.append(f"check: int8 {method} vs torch: {score.text()} on {self.checked_on}{mark}")
            elif score.runs:
                out.append(f"check: CCC(torch, int8 {method}) = {score.ccc:.4f} on {self.checked_on}{mark}")
            else:
                out.append(f"check: int8 {method}: {score.text()}")
        if self.reason:
            out.append(self.reason)
        return out


@dataclass
class Exportable:
    """A network to export: from a checkpoint (``trained``; ``meta`` is the checkpoint's) or an untrained genome."""

    model: nn.Module
    genome: Genome
    size: dict[str, Any]
    trained: bool
    meta: dict[str, Any] = field(default_factory=dict)

    def input_shape(self) -> tuple[int, ...]:
        from .spaces import get_space

        return tuple(get_space(self.genome.space).genome_input_shape(self.genome, **self.size))

    def interface(self) -> Interface:
        shape = self.input_shape()
        if len(shape) == 1:
            return interface_for(shape, self.size.get("outputs"), output_dims(self.meta, self.size.get("outputs")))
        mean, std = image_normalisation(self.meta)
        return interface_for(shape, mean=mean, std=std)

    def metadata(self) -> dict[str, str]:
        return describe(self.genome, self.size, self.interface(), self.trained, self.meta)


def image_normalisation(meta: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The per-channel mean and std the network's training normalised images with: ImageNet's for a final training on
    an image folder (``eeea train --dataset imagefolder``), CIFAR's otherwise (CIFAR, and every search)."""
    if meta.get("dataset") == "imagefolder":
        return IMAGENET_MEAN, IMAGENET_STD
    return CIFAR_MEAN, CIFAR_STD


def describe(genome: Genome, size: Mapping[str, Any], interface: Interface, trained: bool,
             meta: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The ``metadata_props`` of an exported file (see docs/export.md, "What an exported file holds")."""
    from .version import __version__
    from .counting import count_params

    meta = meta or {}
    outputs = int(size.get("outputs") or size.get("num_classes") or 0) or None
    props = {
        "eeea_version": __version__,
        "genome": genome.to_text(),
        "genome_key": genome.key,
        "space": genome.space,
        "size": json.dumps(dict(size), sort_keys=True),
        "params": str(count_params(genome, dict(size))),
        "weights": "trained" if trained else "untrained (random initialisation)",
        "input": interface.input_text(),
    }
    if genome.name:
        props["genome_name"] = genome.name
    if outputs:
        props["output"] = interface.output_text(outputs)
    if interface.kind == "audio":
        props["sample_rate"] = str(SAMPLE_RATE)
        props["output_dims"] = ",".join(interface.dims)
    if interface.kind == "image":
        props["resolution"] = "x".join(map(str, interface.input_shape[1:]))
        props["mean"], props["std"] = floats_text(interface.mean), floats_text(interface.std)
        classes = meta.get("classes")
        if isinstance(classes, list) and classes:
            props["classes"] = ",".join(map(str, classes))
    for key in ("dataset", "task", "recipe"):
        if meta.get(key) is not None:
            props["trained_on" if key in ("dataset", "task") else key] = str(meta[key])
    return props


def load_exportable(arch: str | Path, key: str | None = None, **size: Any) -> Exportable:
    """A checkpoint directory, training run or search run member (``key``; trained weights when the search kept
    them) or any genome (zoo name, file, text: untrained) ready to export."""
    from .checkpoint import GENOME_FILE, load_checkpoint
    from .files import read_mapping
    from .runs import locate
    from .spaces import get_space
    from .zoo import resolve

    found = locate(arch, key)  # a search run directory without a key: one line naming what is missing
    if found is not None and found.checkpoint is None:  # a search member whose weights were not kept
        space = get_space(found.genome.space)
        full = space.size(**{**found.size, **size})
        return Exportable(space.build(found.genome, **full).eval(), found.genome, full, False)
    if found is not None and found.checkpoint is not None:
        genome, ck_size, model = load_checkpoint(found.checkpoint)
        meta = read_mapping(found.checkpoint / GENOME_FILE, "checkpoint genome").get("meta") or {}
        return Exportable(model, genome, get_space(genome.space).size(**{**ck_size, **size}), True, dict(meta))
    genome, default = resolve(arch)
    space = get_space(genome.space)
    full = space.size(**{**default, **size})
    space.check_memory(genome, **full)
    return Exportable(space.build(genome, **full).eval(), genome, full, False)


def check_inputs(input_shape: Sequence[int], n: int = 16, seed: int = 0, mean: Sequence[float] = CIFAR_MEAN,
                 std: Sequence[float] = CIFAR_STD) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(calibration, check)`` inputs, each a list of batches (see the module docstring).

    Audio: ``2 n`` single clips each. Images: :data:`CALIBRATION_IMAGES` single images and :data:`CHECK_IMAGES` in
    batches of 10, different real CIFAR-10 images resized to ``H x W`` and normalised by ``mean`` / ``std``. Other
    shapes: ``n`` inputs of seeded Gaussian noise each."""
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == 1:  # raw audio
        from .data.emodb import TEST_SPEAKERS, load_emodb

        clips = load_emodb()
        train, test = clips.split_by_speaker(TEST_SPEAKERS)
        pick = lambda s: [w[None].astype(np.float32) for w in s.waves[: 2 * n]]  # noqa: E731
        return pick(train), pick(test)
    if len(shape) == 3 and shape[0] == 3:
        from .data.cifar import embedded_sample

        per_class = CHECK_IMAGES // 10
        check = network_images(embedded_sample(per_class).images, shape[1:], mean, std)
        calibration = network_images(embedded_sample(-(-CALIBRATION_IMAGES // 10), skip=per_class).images, shape[1:],
                                     mean, std)
        order = np.random.default_rng(seed).permutation(len(calibration))[:CALIBRATION_IMAGES]
        return [calibration[i:i + 1] for i in order], [check[i:i + 10] for i in range(0, len(check), 10)]
    rng = np.random.default_rng(seed)
    noise = lambda: [rng.standard_normal((1, *shape), dtype=np.float32) for _ in range(n)]  # noqa: E731
    return noise(), noise()


def network_images(images: np.ndarray, hw: Sequence[int], mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 ``N x h x w x 3`` images as a network's float32 input ``N x 3 x H x W``: resized (bilinear, antialiased
    when shrinking), scaled to [0, 1] and normalised per channel."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    if tuple(x.shape[2:]) != tuple(hw):
        x = torch.nn.functional.interpolate(x, size=tuple(int(v) for v in hw), mode="bilinear", align_corners=False,
                                            antialias=True).clamp(0, 255)
    x = (x / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x.numpy().astype(np.float32)


def check_description(interface: Interface, check: Sequence[np.ndarray]) -> str:
    count = sum(len(x) for x in check)
    if interface.kind == "audio":
        return f"{count} held-out EmoDB clips"
    if interface.kind == "image":
        return f"{count} CIFAR-10 images at {'x'.join(map(str, interface.input_shape[1:]))}"
    return f"{count} random inputs"


def export(model: nn.Module, input_shape: Sequence[int], out: str | Path, fmt: str = "onnx", force: bool = False,
           inputs: tuple[list[np.ndarray], list[np.ndarray]] | None = None, interface: Interface | None = None,
           metadata: Mapping[str, str] | None = None, quantization: str = "auto", timer: Any = None) -> ExportReport:
    """Write ``model`` to ``out`` in ``fmt`` and check it against torch; raises UserError when a check fails.

    ``interface`` names the ONNX tensors and picks the check (default: from ``input_shape`` and the model's output
    width); ``metadata`` goes into the ONNX file's ``metadata_props`` (int8 files add their method, check figure,
    timings and why the method was kept). ``quantization`` (int8): ``auto`` keeps the fastest method that passes the
    check, ``static`` / ``dynamic`` that method (:func:`pick_int8`); ``timer`` times the files (anything with
    ``onnx_us(path, x)`` and ``describe()``; default :class:`~eeea.latency.Timer`, onnxruntime with one thread)."""
    from .atomic import atomic_write

    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if quantization not in QUANTIZATIONS:
        raise UserError(f"--quantization must be one of {', '.join(QUANTIZATIONS)}, got {quantization!r}")
    out = Path(out)
    check_output_file(out, force)
    # written and checked in a folder of its own, then put in place in one step: a failed check or a kill never
    # leaves a half-written file at ``out``, nor costs the file a --force would have replaced
    with tempfile.TemporaryDirectory(prefix="eeea-export-") as staging:
        report = _export_to(model, input_shape, Path(staging) / out.name, fmt, inputs, interface, metadata,
                            quantization, timer)
        check_output_file(out, force)  # still writable after the work (another process may have made the file)
        atomic_write(out, lambda tmp: shutil.copyfile(report.path, tmp))
    report.path = out
    return report


def _export_to(model: nn.Module, input_shape: Sequence[int], out: Path, fmt: str,
               inputs: tuple[list[np.ndarray], list[np.ndarray]] | None, interface: Interface | None,
               metadata: Mapping[str, str] | None, quantization: str, timer: Any) -> ExportReport:
    """:func:`export` into ``out``, a path of a fresh folder."""
    model = model.eval().cpu()
    calibration, check = inputs or check_inputs(input_shape, mean=interface.mean if interface else CIFAR_MEAN,
                                                std=interface.std if interface else CIFAR_STD)
    with torch.no_grad():
        reference = np.concatenate([model(torch.from_numpy(x)).numpy() for x in check])
    if interface is None:  # audio outputs named after as many dimensions as the model has
        interface = interface_for(input_shape, int(reference.shape[-1]))
    where = check_description(interface, check)
    if fmt == "torchscript":
        example = torch.from_numpy(check[0])
        with torch.no_grad():
            scripted = torch.jit.trace(model, example)
        scripted.save(str(out))
        loaded = torch.jit.load(str(out))
        with torch.no_grad():
            got = np.concatenate([loaded(torch.from_numpy(x)).numpy() for x in check])
        return _fp32_report(out, fmt, got, reference, interface, where)
    props = dict(metadata or {})
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.onnx" if fmt == "onnx-int8" else out
        export_onnx(model, input_shape, fp32, interface)
        if props:
            set_metadata(fp32, props)
        report = _fp32_report(fp32, "onnx", run_onnx(fp32, check), reference, interface, where)
        if fmt == "onnx":
            return report
        if timer is None:
            from .latency import Timer

            timer = Timer("onnxruntime", 1)
        report = _quantise_and_pick(fp32, out, check, reference, float_nodes(model, fp32), calibration, interface,
                                    quantization, timer)
        report.checked_on = where
        kept = report.int8[report.int8_method]
        set_metadata(out, {**props, "quantization": str(report.int8_method),
                           "quantization_check": f"{kept.text()} against torch on {where}",
                           "quantization_choice": f"--quantization {quantization}: {report.reason}",
                           "latency_us": json.dumps(report.latency_us, sort_keys=True),
                           "latency_timed_with": report.timed_with})
        report.bytes = out.stat().st_size
        return report


def _fp32_report(path: Path, fmt: str, got: np.ndarray, reference: np.ndarray, interface: Interface,
                 where: str) -> ExportReport:
    diff = float(np.max(np.abs(got - reference)))
    if not np.allclose(got, reference, rtol=1e-3, atol=1e-4):
        raise UserError(f"exported {fmt} disagrees with torch (max |diff| {diff:.2e} on {where}); not usable")
    return ExportReport(path, fmt, path.stat().st_size, diff, where, Score.of(got, reference, interface.kind))


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


def quantize_file(fp32: Path, out: Path, method: str, calibration: list[np.ndarray], exclude: list[str]) -> None:
    """Quantise an fp32 ONNX file to int8 as :func:`export` does: ``static`` (QDQ, per-channel weights, activations
    calibrated on ``calibration``) or ``dynamic``; only :data:`WEIGHT_OPS`, the ``exclude`` nodes kept in float."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    import onnx

    name = onnx.load(str(fp32), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: x} for x in calibration])

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
                       calibration: list[np.ndarray], interface: Interface, quantization: str, timer: Any) -> ExportReport:
    """Quantise by the method(s) ``quantization`` asks for, score each on ``check``, time the fp32 file and each
    passing int8 file with ``timer`` on a real check input, and keep the one :func:`pick_int8` picks."""
    methods = ("static", "dynamic") if quantization == "auto" else (quantization,)
    scores: dict[str, Score] = {}
    candidates = {method: fp32.parent / f"{method}.onnx" for method in methods}
    for method, path in candidates.items():
        quantize_file(fp32, path, method, calibration, exclude)
    for method, path in candidates.items():
        try:
            compact_names(path)
            got = run_onnx(path, check)
        except Exception:  # a quantised graph onnxruntime cannot run (an op without an int8 kernel) simply loses
            scores[method] = Score(runs=False)
            continue
        scores[method] = Score.of(got, reference, interface.kind)
    where = check_description(interface, check)
    passing = [m for m in methods if scores[m].passes()]
    if not passing:
        raise UserError(_none_passes(scores, where, quantization))
    example = np.ascontiguousarray(check[0][:1])  # a real input at batch 1
    latency = {"fp32": float(timer.onnx_us(fp32, example))}
    latency.update({m: float(timer.onnx_us(candidates[m], example)) for m in passing})
    best, reason = pick_int8(scores, latency, quantization)
    shutil.move(str(candidates[best]), str(out))
    return ExportReport(out, "onnx-int8", out.stat().st_size, None, "", None, scores, best, reason,
                        {k: round(v, 1) for k, v in latency.items()}, timer.describe())


def pick_int8(scores: Mapping[str, Score], latency_us: Mapping[str, float], quantization: str = "auto"
              ) -> tuple[str, str]:
    """``(method, why)``: with ``auto``, the fastest int8 method (by ``latency_us``, timed on this machine) among
    those whose ``scores`` pass the bar; with ``static`` or ``dynamic``, that method (it must pass). ``why`` gives the
    timings and, when the kept file is slower than fp32 (``latency_us["fp32"]``), says so and names fp32's latency:
    an int8 file is smaller, but not always faster (dynamic int8 requantises activations on every call).

    Accuracy beyond the bar does not decide: every passing method agrees with torch within the check's tolerance,
    and speed is what a user ships int8 for."""
    from .units import format_duration

    passing = [m for m in scores if scores[m].passes() and m in latency_us]
    if not passing:
        raise UserError(_none_passes(scores, "the check inputs", quantization))
    best = min(passing, key=lambda m: (latency_us[m], m))
    fp32 = latency_us["fp32"]
    timed = ", ".join(f"{m} {format_duration(latency_us[m])}" for m in ("fp32", *sorted(passing, key=latency_us.get)))
    failed = [f"{m} {scores[m].headline() if scores[m].runs else 'does not run'}" for m in scores if m not in passing]
    dropped = f"; failed the check: {', '.join(failed)} (need >= {_bar(scores[best])})" if failed else ""
    if latency_us[best] <= fp32:
        how = "the fastest int8 that passes the check" if quantization == "auto" else "as asked"
        return best, f"kept {best} ({how}): {timed} on this machine{dropped}"
    if quantization == "auto":
        return best, (f"no int8 variant beats fp32 on this machine: {timed}; kept {best}, the fastest int8 (smaller "
                      f"than fp32, slower); for speed export fp32 with --format onnx ({format_duration(fp32)}){dropped}")
    return best, (f"kept {best} as asked, slower than fp32 on this machine: {timed}; for speed use --quantization "
                  f"auto or --format onnx ({format_duration(fp32)}){dropped}")


def _none_passes(scores: Mapping[str, Score], where: str, quantization: str) -> str:
    """The error of an int8 export none of whose methods passed the check."""
    ran = {m: s for m, s in scores.items() if s.runs}
    figures = ", ".join(f"{m} {s.headline()}" for m, s in ran.items()) or f"onnxruntime runs no {'/'.join(scores)} file"
    bar = _bar(next(iter(ran.values()))) if ran else f"{INT8_MIN_CCC} (CCC) / {INT8_MIN_AGREEMENT} (top-1)"
    other = " (or --quantization auto, which tries both methods)" if quantization != "auto" else ""
    return (f"int8 outputs disagree with torch on {where}: {figures} (need >= {bar}); export fp32 with --format onnx "
            f"instead{other}")


def _bar(score: Score) -> str:
    return f"{INT8_MIN_AGREEMENT}" if score.agreement is not None else f"{INT8_MIN_CCC}"


def int8_variants(model: nn.Module, input_shape: tuple[int, ...], folder: Path, metadata: dict[str, str],
                  calibration: list) -> dict[str, Path]:
    """Both int8 files of ``model`` as :func:`eeea.export.export` writes them (fp32 ONNX with ``metadata``, quantised
    statically on ``calibration`` and dynamically, short tensor names, the metadata again), without export's accuracy
    check, which only decides which one it keeps: ``{method: path}`` under ``folder``. What the size screen's bound
    (:mod:`eeea.filesize`) is checked against (``benchmarks/bench_model_bytes.py``, ``tests/test_model_bytes.py``)."""
    from .filesize import BYTES

    fp32 = folder / "model.onnx"
    export_onnx(model.eval().cpu(), input_shape, fp32)
    set_metadata(fp32, metadata)
    out = {}
    for method in BYTES:
        path = folder / f"{method}.onnx"
        quantize_file(fp32, path, method, calibration, float_nodes(model, fp32))
        compact_names(path)
        set_metadata(path, {**metadata, "quantization": method, "quantization_check": CHECK_TEXT})
        out[method] = path
    return out


#: a quantisation check line as long as export's (its figures vary in the last digits only)
CHECK_TEXT = ("CCC 0.9987 (static) against torch on 32 held-out EmoDB clips; kept static (faster kernels): CCC 0.9987 "
              ">= dynamic 0.9984")
