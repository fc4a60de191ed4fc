"""The shared SGD training loops of the image tasks: the search's short proxy training and ``eeea train``'s full
recipes run the same step and epoch code (:func:`train_step`, :func:`train_epoch`, :func:`evaluate_accuracy`).

Recipe knobs (all in :class:`TrainConfig`): SGD with momentum (optionally Nesterov) and weight decay, cosine learning
rate over all steps, cutout, auxiliary-head loss weight, gradient-norm clipping, drop-path ramped linearly over epochs.
"""
from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Iterator, Mapping

import torch
from torch import nn

from ..errors import UserError
from ..units import check_number


class Diverged(RuntimeError):
    """The loss became NaN or infinite: the candidate is recorded as diverged, the search goes on."""


@dataclass
class TrainConfig:
    epochs: int = 1
    batch_size: int = 128
    lr: float = 0.025
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    cutout: int = 16
    auxiliary_weight: float = 0.4
    grad_clip: float = 5.0
    drop_path: float = 0.0
    #: stop each epoch after this many steps (tests and quick looks); None = the whole epoch
    max_steps: int | None = None
    eval_batch_size: int = 500

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"train: unknown option {sorted(unknown)[0]!r} (known: {', '.join(sorted(known))})")
        cfg = cls(**d)
        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_number(f"train: {name}", getattr(cfg, name), integer=True, minimum=1)
        check_number("train: lr", cfg.lr, above=0)
        check_number("train: momentum", cfg.momentum, minimum=0, maximum=1)
        for name in ("weight_decay", "auxiliary_weight", "grad_clip"):
            check_number(f"train: {name}", getattr(cfg, name), minimum=0)
        check_number("train: cutout", cfg.cutout, integer=True, minimum=0)
        check_number("train: drop_path", cfg.drop_path, minimum=0, maximum=1)
        if cfg.max_steps is not None:
            check_number("train: max_steps", cfg.max_steps, integer=True, minimum=1)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of an epoch's batch order and augmentation: independent of how a training was interrupted."""
    return (seed * 1_000_003 + epoch) % (2**63)


def make_optimizer(model: nn.Module, cfg: TrainConfig, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0,
        weight_decay=cfg.weight_decay,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total_steps))
    return opt, sched


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> Any:
    """``torch.autocast`` for ``dtype`` on ``device``'s type, or a no-op context when ``dtype`` is None."""
    return torch.autocast(torch.device(device).type, dtype=dtype) if dtype is not None else nullcontext()


def cpu_amp_guard(device: torch.device | str, dtype: torch.dtype | None) -> Any:
    """A context that turns oneDNN off while autocasting on the CPU.

    With oneDNN, the bf16 weight gradient of a depthwise dilated convolution came out NaN on the CPU (torch 2.15 on an
    AVX-512-BF16 CPU), so CPU autocast runs on PyTorch's own kernels; CUDA is unaffected."""
    if dtype is not None and torch.device(device).type == "cpu":
        return _mkldnn_off()
    return nullcontext()


@contextmanager
def _mkldnn_off() -> Iterator[None]:
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def train_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer, cfg: TrainConfig,
    amp: torch.dtype | None = None, stats: dict[str, Any] | None = None,
) -> float:
    """One SGD step with the auxiliary loss and gradient clipping; returns the loss (raises Diverged if not finite).

    ``amp`` (e.g. ``torch.bfloat16``) runs the forward pass and loss under autocast; backward runs outside it.
    ``stats``, when given, accumulates ``correct`` (a device tensor, no sync) and ``seen`` for the training accuracy."""
    with autocast(x.device, amp):
        out = model(x)
        if isinstance(out, tuple):
            logits, aux = out
            loss = nn.functional.cross_entropy(logits, y) + cfg.auxiliary_weight * nn.functional.cross_entropy(aux, y)
        else:
            logits = out
            loss = nn.functional.cross_entropy(out, y)
    if stats is not None:
        stats["correct"] = stats.get("correct", 0) + (logits.detach().argmax(1) == y).sum()
        stats["seen"] = stats.get("seen", 0) + len(y)
    value = float(loss.detach())
    if not math.isfinite(value):
        raise Diverged(f"loss is {value}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return value


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    opt: torch.optim.Optimizer,
    sched: Any,
    cfg: TrainConfig,
    *,
    epoch: int = 0,
    progress: Any = None,
    amp: torch.dtype | None = None,
    stats: dict[str, Any] | None = None,
) -> float:
    """Train one epoch; returns the mean loss. Drop-path ramps linearly with ``epoch / cfg.epochs``.
    ``amp`` and ``stats``: see :func:`train_step`."""
    model.train()
    net = getattr(model, "_orig_mod", model)  # a torch.compile'd model keeps the network as _orig_mod
    if hasattr(net, "drop_path_prob"):
        net.drop_path_prob = cfg.drop_path * epoch / cfg.epochs
    total, steps = 0.0, 0
    for x, y in batches:
        total += train_step(model, x, y, opt, cfg, amp, stats)
        sched.step()
        steps += 1
        if progress is not None:
            progress.update(1)
        if cfg.max_steps is not None and steps >= cfg.max_steps:
            break
    return total / max(1, steps)


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], amp: torch.dtype | None = None
) -> float:
    """Top-1 accuracy in eval mode (forward passes under autocast when ``amp`` is a dtype)."""
    model.eval()
    correct = seen = 0
    for x, y in batches:
        with autocast(x.device, amp):
            logits = model(x)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
    return correct / max(1, seen)
