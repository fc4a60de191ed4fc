"""The ONNX file layer: the tensors' names and meaning (:class:`Interface`), writing a network to ONNX, its
metadata, and onnxruntime sessions. :mod:`eeea.export` (checks, quantisation) and :mod:`eeea.latency` (timing) both
stand on it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .data.audio import SAMPLE_RATE
from .data.cifar import CIFAR_MEAN, CIFAR_STD
from .metrics import DIMENSIONS

OPSET = 17


@dataclass(frozen=True)
class Interface:
    """What an exported network takes and gives: tensor names, and the facts the metadata states about them.

    ``kind``: ``audio`` (raw 16 kHz audio to emotion dimensions ``dims``), ``image`` (a classifier of normalised RGB
    images, ``mean`` / ``std`` per channel on a 0-1 scale) or ``tensor`` (anything else: unnamed inputs)."""

    kind: str
    input_shape: tuple[int, ...]
    input: str
    output: str
    dims: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def input_text(self) -> str:
        if self.kind == "audio":
            return (f"{self.input}: float32 [batch, samples], mono audio in [-1, 1] at {SAMPLE_RATE} Hz (any length; "
                    f"the model was sized for {self.input_shape[0] / SAMPLE_RATE:g} s)")
        if self.kind == "image":
            c, h, w = self.input_shape
            return (f"{self.input}: float32 [batch, {c}, {h}, {w}], RGB scaled to [0, 1], then (x - mean) / std per "
                    f"channel with mean {floats_text(self.mean)} and std {floats_text(self.std)}")
        return f"{self.input}: float32 [batch, {', '.join(map(str, self.input_shape))}]"

    def output_text(self, outputs: int) -> str:
        if self.kind == "audio":
            return (f"{self.output}: float32 [batch, {outputs}], {', '.join(self.dims)} of the whole clip, trained "
                    f"toward [0, 1] (low to high; a linear head, values are not clipped)")
        if self.kind == "image":
            return (f"{self.output}: float32 [batch, {outputs}], unnormalised class scores (argmax = class; softmax = "
                    f"probabilities)")
        return f"{self.output}: float32 [batch, {outputs}]"


def floats_text(values: Sequence[float]) -> str:
    """Numbers as the ONNX metadata writes them: ``0.4914,0.4822,0.4465``."""
    return ",".join(f"{v:g}" for v in values)


def interface_for(input_shape: Sequence[int], outputs: int | None = None, dims: Sequence[str] | None = None,
                  mean: Sequence[float] = CIFAR_MEAN, std: Sequence[float] = CIFAR_STD) -> Interface:
    """The :class:`Interface` of a network taking ``input_shape`` to ``outputs`` values: raw audio (one axis), an RGB
    image (3 x H x W) or any other tensor. Audio ``dims`` default to the first ``outputs`` of arousal, dominance,
    valence (the order eeea trains them in)."""
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == 1:
        if dims is None:
            dims = DIMENSIONS[: outputs or len(DIMENSIONS)] if (outputs or 0) <= len(DIMENSIONS) else ()
        dims = tuple(dims)
        return Interface("audio", shape, "audio", "_".join(dims) or "outputs", dims)
    if len(shape) == 3 and shape[0] == 3:
        return Interface("image", shape, "image", "logits", (), tuple(mean), tuple(std))
    return Interface("tensor", shape, "input", "output")


def output_dims(meta: Mapping[str, Any], outputs: int | None) -> tuple[str, ...] | None:
    """The emotion dimensions a checkpoint's outputs hold: its ``meta.dims``, else those its figures name
    (``test_ccc_arousal``, ``ccc_valence``), else None (the first ``outputs`` of arousal, dominance, valence)."""
    dims = meta.get("dims")
    if isinstance(dims, (list, tuple)) and dims and all(d in DIMENSIONS for d in dims):
        return tuple(dims)
    named = tuple(d for d in DIMENSIONS if f"test_ccc_{d}" in meta or f"ccc_{d}" in meta)
    return named if named and (outputs is None or len(named) == outputs) else None


def export_onnx(model: nn.Module, input_shape: Sequence[int], path: Path, interface: Interface | None = None) -> None:
    """fp32 ONNX with a dynamic batch (and, for raw audio, a dynamic length), its tensors named by ``interface``
    (default: :func:`interface_for` the input shape and the model's output width)."""
    axes = {0: "batch", 1: "samples"} if len(input_shape) == 1 else {0: "batch"}
    example = torch.zeros(1, *input_shape)
    if len(input_shape) == 1:
        example = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0))
    if interface is None:
        outputs = None
        if len(input_shape) == 1:
            with torch.no_grad():
                outputs = int(model(example).shape[-1])
        interface = interface_for(input_shape, outputs)
    names = {"input_names": [interface.input], "output_names": [interface.output],
             "dynamic_axes": {interface.input: axes, interface.output: {0: "batch"}}}
    # The TorchScript-based exporter handles the dynamic audio length; its deprecation notices are not the user's concern.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), opset_version=OPSET, dynamo=False, **names)


def set_metadata(path: Path, props: Mapping[str, str]) -> None:
    """Set the ONNX file's ``metadata_props`` to ``props`` (keys and values are strings; earlier ones are replaced)."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {str(k): str(v) for k, v in props.items()})
    onnx.save(model, str(path))


def read_metadata(path: str | Path) -> dict[str, str]:
    """An ONNX file's ``metadata_props`` (what :func:`describe` wrote), as onnxruntime reads them."""
    return dict(onnx_session(path).get_modelmeta().custom_metadata_map)


#: onnxruntime's graph optimisation levels by name. ``all`` (onnxruntime's default) includes layout transforms for the
#: machine's CPU (on x86 with AVX2 or AVX-512: convolutions in a blocked NCHWc layout, reorders between it and
#: other operators); ``extended`` stops short of them, as a model optimised offline for other machines does.
ORT_OPTIMIZATIONS = {"all": "ORT_ENABLE_ALL", "extended": "ORT_ENABLE_EXTENDED", "basic": "ORT_ENABLE_BASIC",
                     "disabled": "ORT_DISABLE_ALL"}


def onnx_session(path: str | Path, threads: int = 1, optimization: str = "all",
                 optimized_to: str | Path | None = None) -> Any:
    """An onnxruntime CPU session with ``threads`` intra-op threads (0: onnxruntime's default), one inter-op, and the
    graph optimisation level ``optimization`` (:data:`ORT_OPTIMIZATIONS`); ``optimized_to``: also write the graph as
    optimised for this machine there."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_OPTIMIZATIONS[optimization])
    if optimized_to is not None:
        options.optimized_model_filepath = str(optimized_to)
        options.log_severity_level = 3  # onnxruntime warns that such a graph fits only this machine: it is the point
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: str | Path | Any, inputs: Sequence[np.ndarray], threads: int = 1) -> np.ndarray:
    """Outputs of an ONNX file (or an open session) for each input, concatenated along the batch. The input's name
    is read from the file (``audio``, ``image``; older files and other tools' models name it otherwise)."""
    session = path if hasattr(path, "run") else onnx_session(path, threads)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x})[0] for x in inputs])
