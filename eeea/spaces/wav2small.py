"""The Wav2Small family: raw audio -> log-mel (inside the model) -> conv blocks -> attention pooling -> A/D/V.

Genome ``arch`` (the public 17K layout as an example)::

    mels: 26                 # mel bands of the front end
    hop: 32                  # STFT hop in samples (250 frames per second at 16 kHz)
    channels: [13, 13, 13, 13, 13, 13, 13]   # one entry per Conv-BN-ReLU block
    kernels: [3, 3, 3, 3, 3, 3, 3]
    pool: [0, 0, 1, 0, 0, 0, 0]              # 1: MaxPool2d(3, 2, 1) after this block (halves time and mel)
    head: attention_gram     # attention_gram | attention | mean

Integer encoding: ``[blocks, mels, hop, head]`` then ``(channels, kernel, pool)`` for each of ``max_blocks`` blocks,
choices as indices into the space's lists; genes of blocks beyond ``blocks`` are inactive (encode writes 0).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from torch import nn

from ..errors import GenomeError, UserError
from ..genome import Genome
from ..models.audio import AudioStudent
from ..models.specs import Walk, chain_params, chain_walk, walk_macs
from .base import SearchSpace, register_space_kind

HEADS = ("attention_gram", "attention", "mean")
SIZE_KEYS = {"seconds", "outputs"}
FIELDS = ("mels", "hop", "channels", "kernels", "pool", "head")
FRONT_DEFAULTS = {"n_fft": 64, "win_length": 64, "sample_rate": 16000, "fmin": 0.0, "fmax": 8000.0, "eps": 1e-7}


class AudioInput:
    """Size, input shape and front-end spec shared by the audio spaces (raw 16 kHz audio in, ``outputs`` values out).

    Sizes: ``seconds`` (the clip length MACs are counted at, default 5) and ``outputs`` (default 3: A/D/V)."""

    size_keys = frozenset(SIZE_KEYS)
    front: dict[str, Any]
    name: str

    def size(self, **overrides: Any) -> dict[str, Any]:
        size = SearchSpace.size(self, **overrides)  # type: ignore[arg-type]
        size.setdefault("seconds", 5.0)
        size.setdefault("outputs", 3)
        if not isinstance(size["outputs"], int) or size["outputs"] < 1 or float(size["seconds"]) <= 0:
            raise UserError(f"space {self.name}: outputs must be a positive integer and seconds positive")
        return size

    def input_shape(self, **size: Any) -> tuple[int, ...]:
        seconds = float(self.size(**size)["seconds"])
        return (int(round(seconds * int(self.front["sample_rate"]))),)

    def genome_input_shape(self, genome: Genome, **size: Any) -> tuple[int, ...]:
        return self.input_shape(**size)

    def input_text(self, genome: Genome, **size: Any) -> str:
        seconds = float(self.size(**size)["seconds"])
        return f"{seconds:g} s of {int(self.front['sample_rate']) / 1000:g} kHz audio"

    def front_spec(self, mels: int, hop: int) -> tuple:
        """The log-mel front end's module spec (its fixed parts from the space file's ``front``)."""
        f = self.front
        return ("log_mel_front", int(f["n_fft"]), int(f["win_length"]), hop, mels, int(f["sample_rate"]),
                float(f["fmin"]), float(f["fmax"]), float(f["eps"]))


@register_space_kind("wav2small")
class Wav2SmallSpace(AudioInput, SearchSpace):

    def __init__(self, config: Mapping[str, Any], source: str) -> None:
        super().__init__(config, source)
        try:
            self.channels = [int(c) for c in config["channels"]]
            self.kernels = [int(k) for k in config["kernels"]]
            self.mels = [int(m) for m in config["mels"]]
            self.hops = [int(h) for h in config["hops"]]
            self.heads = [str(h) for h in config.get("heads", HEADS)]
            self.min_blocks = int(config.get("min_blocks", 1))
            self.max_blocks = int(config["max_blocks"])
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{source}: wav2small spaces need lists channels, kernels, mels, hops and max_blocks ({e})") from None
        self.front = {**FRONT_DEFAULTS, **dict(config.get("front", {}))}
        if set(self.heads) - set(HEADS) or not 1 <= self.min_blocks <= self.max_blocks:
            raise UserError(f"{source}: heads are {', '.join(HEADS)} and 1 <= min_blocks <= max_blocks")
        if any(k % 2 == 0 for k in self.kernels) or min(self.channels + self.mels + self.hops) < 1:
            raise UserError(f"{source}: kernels must be odd, channels, mels and hops positive")
        head = [self.max_blocks, len(self.mels) - 1, len(self.hops) - 1, len(self.heads) - 1]
        block = [len(self.channels) - 1, len(self.kernels) - 1, 1]
        self.xu = np.array(head + block * self.max_blocks, dtype=np.int64)
        self.xl = np.zeros_like(self.xu)
        self.xl[0] = self.min_blocks

    # encoding --------------------------------------------------------------------------------------------------
    def gene_groups(self) -> list[list[int]]:
        """The four global genes alone; each block's (channels, kernel, pool) together."""
        return [[i] for i in range(4)] + [[i, i + 1, i + 2] for i in range(4, self.n_var, 3)]

    def active_genes(self, X: np.ndarray) -> np.ndarray:
        """The genes of blocks beyond the block count are ignored."""
        X = np.atleast_2d(X)
        block = (np.arange(self.n_var) - 4) // 3  # the block of each gene (negative: a global gene)
        return block[None, :] < X[:, :1]

    def summary_features(self, X: np.ndarray) -> np.ndarray:
        """The block count, the number of pools and the mean width of the active blocks (fractions of the most)."""
        X = np.atleast_2d(X)
        used = np.arange(self.max_blocks) < X[:, :1]
        blocks = X[:, 4:].reshape(len(X), self.max_blocks, 3)
        width = (np.asarray(self.channels)[blocks[:, :, 0]] * used).sum(axis=1) / np.maximum(used.sum(axis=1), 1)
        return np.column_stack([X[:, 0] / self.max_blocks, (blocks[:, :, 2] * used).sum(axis=1) / self.max_blocks,
                                width / max(self.channels)])

    def decode_genes(self, x: np.ndarray) -> Genome:
        n = int(x[0])
        blocks = x[4 : 4 + 3 * n].reshape(n, 3)
        arch = {
            "mels": self.mels[int(x[1])],
            "hop": self.hops[int(x[2])],
            "channels": [self.channels[int(b[0])] for b in blocks],
            "kernels": [self.kernels[int(b[1])] for b in blocks],
            "pool": [int(b[2]) for b in blocks],
            "head": self.heads[int(x[3])],
        }
        return self.validate(Genome(self.name, arch))

    def encode(self, genome: Genome) -> np.ndarray:
        arch = self.validate(genome).arch
        x = np.zeros(self.n_var, dtype=np.int64)
        x[:4] = [len(arch["channels"]), self.mels.index(arch["mels"]), self.hops.index(arch["hop"]),
                 self.heads.index(arch["head"])]
        for i, (c, k, p) in enumerate(zip(arch["channels"], arch["kernels"], arch["pool"])):
            x[4 + 3 * i : 7 + 3 * i] = [self.channels.index(c), self.kernels.index(k), p]
        return x

    # validation ------------------------------------------------------------------------------------------------
    def validate(self, genome: Genome) -> Genome:
        self.check_space(genome)
        arch = dict(genome.arch)
        self.check_fields(arch, FIELDS)
        _choice("mels", arch["mels"], self.mels)
        _choice("hop", arch["hop"], self.hops)
        _choice("head", arch["head"], self.heads)
        n = len(arch["channels"]) if isinstance(arch["channels"], list) else -1
        if not self.min_blocks <= n <= self.max_blocks:
            raise GenomeError(f"channels: expected a list of {self.min_blocks}..{self.max_blocks} blocks, got {arch['channels']!r}")
        for key, allowed in (("channels", self.channels), ("kernels", self.kernels), ("pool", [0, 1])):
            values = arch[key]
            if not isinstance(values, list) or len(values) != n:
                raise GenomeError(f"{key}: expected {n} values (one per block), got {values!r}")
            for i, v in enumerate(values):
                _choice(f"{key}[{i}]", v, allowed)
        canonical = {k: arch[k] for k in FIELDS}
        return Genome(self.name, canonical, genome.name)

    def describe(self, genome: Genome) -> list[str]:
        arch = self.validate(genome).arch
        lines = [f"front: log-mel, {arch['mels']} bands, n_fft {self.front['n_fft']}, hop {arch['hop']} "
                 f"({self.front['sample_rate'] / arch['hop']:g} frames/s), raw {self.front['sample_rate']} Hz audio in"]
        for i, (c, k, p) in enumerate(zip(arch["channels"], arch["kernels"], arch["pool"])):
            lines.append(f"  block {i + 1}: conv {k}x{k} -> {c} ch, BN, ReLU" + (", max-pool /2" if p else ""))
        lines.append(f"head: {arch['head']}")
        return lines

    # networks --------------------------------------------------------------------------------------------------
    def specs(self, genome: Genome, **size: Any) -> tuple[tuple, list[tuple], tuple, tuple]:
        """``(front, body, head, classifier)`` module specs: the single description that builds and counts."""
        arch = self.validate(genome).arch
        size = self.size(**size)
        front = self.front_spec(arch["mels"], arch["hop"])
        body: list[tuple] = []
        c_in, mels = 1, arch["mels"]
        for c, k, p in zip(arch["channels"], arch["kernels"], arch["pool"]):
            body.append(("conv_bn_relu", c_in, c, k))
            if p:
                body.append(("max_pool2d", 3, 2, 1))
                mels = (mels - 1) // 2 + 1
            c_in = c
        if arch["head"] == "mean":
            head, features = ("mean_pool",), c_in * mels
        else:
            gram = arch["head"] == "attention_gram"
            head, features = ("attention_pool", c_in, gram), c_in * mels + (c_in * c_in if gram else 0)
        return front, body, head, ("linear", features, size["outputs"])

    def build(self, genome: Genome, **size: Any) -> nn.Module:
        return AudioStudent(*self.specs(genome, **size))

    def count_params(self, genome: Genome, **size: Any) -> int:
        front, body, head, classifier = self.specs(genome, **size)
        return chain_params((front, *body, head, classifier))

    def spec_walk(self, genome: Genome, **size: Any) -> Walk:
        front, body, head, classifier = self.specs(genome, **size)
        return chain_walk((front, *body, head, classifier), self.input_shape(**size))

    def count_macs(self, genome: Genome, **size: Any) -> int:
        return walk_macs(self.spec_walk(genome, **size))


def _choice(field: str, value: Any, allowed: list) -> None:
    if isinstance(value, bool) or type(value) is not type(allowed[0]) or value not in allowed:
        raise GenomeError(f"{field}: {value!r} is not one of {', '.join(map(str, allowed))}")
