"""eeea: evolutionary neural architecture search with early-exit population initialisation (EE-PI).

The public names load on first use (PEP 562), so that ``import eeea.cli`` and ``eeea --help`` do not wait for
torch; ``from eeea import create_model`` works as usual.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__

#: public name -> the module that defines it
_EXPORTS = {
    "count_macs": ".counting", "count_params": ".counting",
    "GenomeError": ".errors", "UserError": ".errors",
    "Genome": ".genome",
    "LatencyTable": ".latency", "count_latency": ".latency",
    "SearchSpace": ".spaces", "get_space": ".spaces", "list_spaces": ".spaces",
    "create_model": ".zoo", "list_models": ".zoo", "register_model": ".zoo", "resolve_genome": ".zoo",
    "load_checkpoint": ".checkpoint",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the names as static analysers and IDEs see them
    from .checkpoint import load_checkpoint
    from .counting import count_macs, count_params
    from .errors import GenomeError, UserError
    from .genome import Genome
    from .latency import LatencyTable, count_latency
    from .spaces import SearchSpace, get_space, list_spaces
    from .zoo import create_model, list_models, register_model, resolve_genome


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eeea' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
