"""MobileNetV3 students for speech emotion: raw 16 kHz audio -> log-mel (inside the model) -> MobileNetV3 -> A/D/V.

The body is :mod:`eeea.models.mobilenet`'s (stem, MBConv stages, final expand, feature mix, linear output) on a 1-channel
log-mel "image" ``[batch, 1, frames, mels]``; the front end is :mod:`eeea.models.audio`'s, so an exported ONNX file takes raw
audio of any length. Global average pooling (in squeeze-excite and the feature mix) makes the network length-free.

Genome ``arch``: the front end's ``mels`` and ``hop``, a ``width`` multiplier of every stage, stem and head width
(rounded to multiples of 8 as MobileNetV3 does), then ``depths`` / ``kernels`` / ``expansions`` as in ``ofa_mbv3``.
Encoding: the Once-for-All block slots of :class:`MobileNetV3Space`, then the global genes ``mels, hop, width``.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import UserError
from ..genome import Genome
from ..models.mobilenet import MobileNetV3Spec, StageLayout, make_divisible, mbv3_net_spec
from .base import register_space_kind
from .mobilenet import MobileNetV3Space
from .wav2small import FRONT_DEFAULTS, AudioInput


def _choices(config: Mapping[str, Any], key: str, typ: type, source: str) -> list:
    value = config.get(key)
    try:
        out = [typ(v) for v in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        out = []
    if not out or min(out) <= 0:
        raise UserError(f"{source}: {key!r} must be a non-empty list of positive numbers")
    return out


@register_space_kind("mobilenet_audio")
class MobileNetAudioSpace(AudioInput, MobileNetV3Space):
    """MobileNetV3 on log-mel: per block kernel and expansion, per stage depth, mel bands, hop and width."""

    def read_globals(self, config: Mapping[str, Any], source: str) -> None:
        self.mels = _choices(config, "mels", int, source)
        self.hops = _choices(config, "hops", int, source)
        self.widths = _choices(config, "widths", float, source)
        self.front = {**FRONT_DEFAULTS, **dict(config.get("front", {}))}

    def global_choices(self) -> list[tuple[str, list]]:
        return [("mels", self.mels), ("hop", self.hops), ("width", self.widths)]

    def describe(self, genome: Genome) -> list[str]:
        arch = self.validate(genome).arch
        f = self.front
        lines = [f"front: log-mel, {arch['mels']} bands, n_fft {f['n_fft']}, hop {arch['hop']} "
                 f"({f['sample_rate'] / arch['hop']:g} frames/s), raw {f['sample_rate']} Hz audio in",
                 f"width: x{arch['width']:g} (stem {self.scaled(arch, 'stem_width')} ch)"]
        return lines + self.describe_stages(arch, self.scaled_stages(arch))

    # networks --------------------------------------------------------------------------------------------------
    def scaled(self, arch: Mapping[str, Any], key: str) -> int:
        return make_divisible(self.layout[key] * arch["width"], 8)

    def scaled_stages(self, arch: Mapping[str, Any]) -> tuple[StageLayout, ...]:
        width = arch["width"]
        return tuple(StageLayout(make_divisible(s.width * width, 8), s.stride, s.act, s.se) for s in self.stages)

    def net_spec(self, genome: Genome, **size: Any) -> MobileNetV3Spec:
        size = self.size(**size)
        arch = self.validate(genome).arch
        return mbv3_net_spec(
            arch["kernels"], arch["expansions"], arch["depths"], num_classes=size["outputs"],
            stages=self.scaled_stages(arch), in_channels=1, stem_width=self.scaled(arch, "stem_width"),
            stem_stride=self.layout["stem_stride"], final_expand=self.scaled(arch, "final_expand"),
            feature_mix=self.scaled(arch, "feature_mix"),
        )

    def front_of(self, genome: Genome, **size: Any) -> tuple:
        arch = self.validate(genome).arch
        return self.front_spec(arch["mels"], arch["hop"])
