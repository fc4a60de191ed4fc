"""The size of a genome's int8 ONNX file (what ``eeea export --format onnx-int8`` writes), counted from its module
specs without building the network or exporting it: EE-PI's ``size`` screen (``--max-model-bytes``).

An int8 file holds, per convolution and linear layer, its weights as int8 (one byte each) and per output channel a
float scale, a zero point and a bias (BatchNorm folds into the convolution before quantisation); the frozen front end
(DFT kernels, mel filterbank) stays float32; every operator, and every quantise/dequantise pair static quantisation
puts around it, costs a few dozen bytes of graph; the metadata (genome text, interface) a few hundred. Each distinct
module spec is built once and its parts counted (memoised, as parameter counts are), so a count is a sum over the
genome's walk.

The count is an *upper bound*: per int8 method (static and dynamic), coefficients fitted on real exports of random
genomes of both speech-emotion spaces with BatchNorms like trained ones (:func:`as_trained`) plus a margin over the
largest under-estimate seen, the larger of the two methods, and what export adds to the file it keeps, so a genome
the screen admits exports to a file within the bound whichever method export keeps.
``benchmarks/bench_model_bytes.py`` checks it against exports of other random genomes and states its error.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from torch import nn

from .models.specs import build_module

#: spec kinds kept in float32 in an int8 file (:attr:`eeea.models.audio.AudioStudent.float_modules`)
FLOAT_KINDS = ("log_mel_front",)
#: modules whose weights are quantised (ONNX Conv and Gemm: :data:`eeea.export.WEIGHT_OPS`)
WEIGHT_MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear)
#: modules that add no operator of their own to an exported graph (folded, or identity in eval mode)
FOLDED_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Identity)


FIELDS = ("weights", "linear", "channels", "layers", "other", "floats")


@dataclass(frozen=True)
class Parts:
    """What a module spec puts into an int8 file: convolution ``weights`` and ``linear`` weights (elements), their
    output ``channels``, weight ``layers``, ``other`` operators (activations, pools, ...) and ``floats`` kept in
    float32."""

    weights: int = 0
    linear: int = 0
    channels: int = 0
    layers: int = 0
    other: int = 0
    floats: int = 0

    def __add__(self, o: "Parts") -> "Parts":
        return Parts(*(getattr(self, k) + getattr(o, k) for k in FIELDS))


@lru_cache(maxsize=None)
def spec_parts(spec: tuple) -> Parts:
    """The :class:`Parts` of the module a spec describes (built once per distinct spec)."""
    module = build_module(spec)
    if spec[0] in FLOAT_KINDS:
        return Parts(floats=sum(b.numel() for b in module.buffers()) + sum(p.numel() for p in module.parameters()))
    parts = Parts()
    for m in module.modules():
        if isinstance(m, WEIGHT_MODULES):
            kind = "linear" if isinstance(m, nn.Linear) else "weights"
            parts += Parts(**{kind: m.weight.numel()}, channels=int(m.weight.shape[0]), layers=1)
        elif not isinstance(m, FOLDED_MODULES) and not list(m.children()):
            parts += Parts(other=1)
    return parts


def walk_parts(specs: Iterable[tuple]) -> Parts:
    """The summed :class:`Parts` of a network's module specs."""
    total = Parts()
    for spec in specs:
        total += spec_parts(spec)
    return total


#: bytes per part of each int8 method's file (least squares on 80 exports of random genomes of both speech-emotion
#: spaces with trained-like BatchNorms, :func:`as_trained`; weights at one byte and float32 numbers at four): a
#: constant (graph frame, metadata, input and output), then per part. Static quantisation stores a scale, a zero
#: point and an int32 bias per channel and a quantise/dequantise pair per activation; dynamic quantisation leaves
#: linear (Gemm) weights in float32 and converts activations inside its integer operators.
#: ``python benchmarks/bench_model_bytes.py --fit --genomes 40 --seed 0`` prints them.
BYTES = {
    "static": {"constant": 2256.0, "weights": 1.0, "linear": 1.049, "channels": 15.68, "layers": 532.7,
               "other": 104.6, "floats": 4.0},
    "dynamic": {"constant": 2104.0, "weights": 1.0, "linear": 4.029, "channels": 3.503, "layers": 396.2,
                "other": 80.35, "floats": 4.0},
}
#: added to each method's fit: 1.5 times its largest under-estimate on those exports (static 606 B, dynamic 251 B),
#: so that the count bounds the file (checked on other genomes by benchmarks/bench_model_bytes.py)
MARGIN = {"static": 909.0, "dynamic": 376.0}
#: what ``eeea export`` adds to the file it keeps, after the fit's exports: the kept method, its check, why it was
#: kept and the timings (374-376 B on seven searched front members; up to ~300 B more for the longest reason text,
#: a failed check listed, and a long CPU name)
KEPT_NOTES = 800.0


def as_trained(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` (in place) with values like training leaves in every BatchNorm: running statistics, scale and shift
    drawn from ``seed``. A file's size depends on them: a freshly built network's BatchNorms fold into all-zero biases,
    which the ONNX exporter stores once and shares, so its static int8 file is smaller than any trained network's
    (by 5.3 KB on a 25-layer mobilenet_audio student). :data:`BYTES` is fitted, and the bound checked, on networks
    made so (``benchmarks/bench_model_bytes.py``)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                if m.track_running_stats:
                    m.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                    m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    m.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model


def int8_bytes_of(parts: Parts, method: str) -> float:
    """The expected size of the ``static`` or ``dynamic`` int8 file of a network with these parts (the fit alone)."""
    coef = BYTES[method]
    return coef["constant"] + sum(coef[k] * getattr(parts, k) for k in FIELDS)


def int8_bytes(parts: Parts) -> int:
    """Upper bound of the int8 ONNX file size of a network with these parts, in bytes, whichever method export keeps."""
    return int(max(int8_bytes_of(parts, m) + MARGIN[m] for m in BYTES) + KEPT_NOTES + 0.5)
