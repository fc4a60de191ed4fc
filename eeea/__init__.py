"""eeea: evolutionary neural architecture search with early-exit population initialisation (EE-PI)."""
from .counting import count_macs, count_params
from .errors import GenomeError, UserError
from .genome import Genome
from .latency import LatencyTable, count_latency
from .spaces import SearchSpace, get_space, list_spaces
from .zoo import create_model, list_models, register_model, resolve_genome

from .version import __version__

__all__ = [
    "Genome",
    "GenomeError",
    "LatencyTable",
    "SearchSpace",
    "UserError",
    "count_latency",
    "count_macs",
    "count_params",
    "create_model",
    "get_space",
    "list_models",
    "list_spaces",
    "register_model",
    "resolve_genome",
]
