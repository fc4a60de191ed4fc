"""The one table of module specs: every module a network is assembled from, built AND counted from the same spec.

A spec is a hashable tuple ``(kind, *args)``. Model modules register a constructor per kind with
:func:`register_module`; :func:`build_module` builds a spec, and the exact counters below build each distinct spec
once, count it and memoise the result, so counting a genome is a walk over its layout summing cached numbers (tens of
thousands of genomes per second instead of the ~11 per second of building each model). The MAC convention is the one
of :mod:`eeea.counting`; :data:`THOP_RULES` holds the thop rules that implement it (BatchNorm free, and the rules of
parameter-free matrix products that model modules add).

MACs are counted in closed form: each kind registers, beside its constructor, a formula
``macs(*args, in_shape) -> (MACs at batch 1, output shape)`` that states thop's figure for that module exactly (the
property tests compare it with :func:`profile_macs` on built networks of every space), so a count never builds a module
or runs a forward pass. A kind registered without a formula falls back to building the module and profiling it.
"""
from __future__ import annotations

import math
import warnings
from functools import lru_cache
from typing import Any, Callable, Iterable

import torch
from torch import nn

Shape = tuple[int, ...]

#: spec kind -> module constructor (filled by the model modules that :mod:`eeea.models` imports)
MODULE_BUILDERS: dict[str, Callable[..., nn.Module]] = {}
#: spec kind -> closed-form MAC formula ``(*args, in_shape) -> (macs, out_shape)`` (registered with the constructor)
MAC_FORMULAS: dict[str, Callable[..., tuple[int, Shape]]] = {}


def register_module(
    kind: str, macs: Callable[..., tuple[int, Shape]] | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: make a module constructor buildable (and countable) from a ``(kind, *args)`` spec.

    ``macs(*args, in_shape)`` returns the MACs at batch 1 and the output shape (without batch) of the module built
    from ``(kind, *args)`` on an input of ``in_shape``, in closed form (see the module docstring).
    """

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if kind in MODULE_BUILDERS:
            raise ValueError(f"module kind {kind!r} is registered twice")
        MODULE_BUILDERS[kind] = builder
        if macs is not None:
            MAC_FORMULAS[kind] = macs
        return builder

    return add


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis (floor mode)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d_macs(c_in: int, c_out: int, kernel: int | tuple[int, int], in_shape: Shape, stride: int | tuple[int, int] = 1,
                padding: int | tuple[int, int] = 0, dilation: int = 1, groups: int = 1) -> tuple[int, Shape]:
    """A Conv2d on ``in_shape`` (C, H, W): output elements x (C_in / groups) x k_h x k_w (bias free), and its shape."""
    kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
    h, w = conv_out(in_shape[1], kh, sh, ph, dilation), conv_out(in_shape[2], kw, sw, pw, dilation)
    return c_out * h * w * (c_in // groups) * kh * kw, (c_out, h, w)


def global_avg_pool_macs(in_shape: Shape) -> int:
    """thop's adaptive average pooling to 1 x 1: (window + 1) per output element."""
    c, h, w = in_shape
    return (h * w + 1) * c


def build_module(spec: tuple) -> nn.Module:
    """Build the module a ``(kind, *args)`` spec describes."""
    kind, *args = spec
    return MODULE_BUILDERS[kind](*args)


def _zero_ops(module: nn.Module, inputs: Any, output: Any) -> None:
    module.total_ops += torch.zeros(1, dtype=torch.float64)


#: thop rules of the MAC convention: module class -> rule (BatchNorm folds into its conv: free)
THOP_RULES: dict[type, Callable[..., None]] = {nn.BatchNorm1d: _zero_ops, nn.BatchNorm2d: _zero_ops}


def profile_macs(model: nn.Module, example: torch.Tensor) -> int:
    """MACs of ``model`` on ``example`` (which carries the batch dimension) by thop, with this module's convention."""
    with warnings.catch_warnings():  # thop imports distutils' deprecated LooseVersion
        warnings.simplefilter("ignore", DeprecationWarning)
        import thop  # heavy import, only needed when a count is missing from the cache

    training = model.training
    macs, _ = thop.profile(model, inputs=(example,), custom_ops=THOP_RULES, verbose=False)
    model.train(training)
    return int(round(macs))


@lru_cache(maxsize=None)
def spec_params(spec: tuple) -> int:
    """Parameters of the module a spec describes (built once per distinct spec, on the meta device: counting never
    allocates weights, so the count of a network too large to build is still exact)."""
    try:
        with torch.device("meta"):
            module = build_module(spec)
    except (RuntimeError, NotImplementedError):  # a module computing constants as it is built (a mel filterbank)
        module = build_module(spec)
    return sum(p.numel() for p in module.parameters())


@lru_cache(maxsize=None)
def spec_macs(spec: tuple, in_shape: Shape) -> tuple[int, Shape]:
    """(MACs at batch 1, output shape without batch) of the module a spec describes, on an input of ``in_shape``."""
    kind, *args = spec
    formula = MAC_FORMULAS.get(kind)
    if formula is not None:
        macs, out = formula(*args, tuple(in_shape))
        return int(macs), tuple(int(d) for d in out)
    return profiled_spec_macs(spec, tuple(in_shape))


def profiled_spec_macs(spec: tuple, in_shape: Shape) -> tuple[int, Shape]:
    """:func:`spec_macs` measured by building the module and profiling it with thop (the reference of the formulas)."""
    from ..runtime import check_memory

    check_memory(4 * (spec_params(spec) + math.prod(in_shape)) * 3, f"profiling module {spec[0]} on {in_shape}")
    module = build_module(spec).eval()
    x = torch.zeros(1, *in_shape)
    macs = profile_macs(module, x)
    with torch.no_grad():
        out = module(x)
    return macs, tuple(out.shape[1:])


def chain_params(specs: Iterable[tuple]) -> int:
    """Parameters of a chain of modules given by their specs."""
    return sum(spec_params(s) for s in specs)


#: a network's modules in forward order, each with the shape of its input (no batch): what counting and latency sum
Walk = list[tuple[tuple, Shape]]


def chain_walk(specs: Iterable[tuple], in_shape: Shape) -> Walk:
    """``(spec, input shape)`` of a chain of modules, each reading the previous one's output."""
    walk, shape = [], tuple(in_shape)
    for spec in specs:
        walk.append((spec, shape))
        shape = spec_macs(spec, shape)[1]
    return walk


def walk_macs(walk: Iterable[tuple[tuple, Shape]]) -> int:
    """MACs of the modules of a walk, each on its input shape."""
    return sum(spec_macs(spec, shape)[0] for spec, shape in walk)


def chain_macs(specs: Iterable[tuple], in_shape: Shape) -> int:
    """MACs of a chain of modules given by their specs, each reading the previous one's output."""
    return walk_macs(chain_walk(specs, in_shape))
