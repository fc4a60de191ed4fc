"""Search spaces: one module per space class, all behind the :class:`SearchSpace` protocol."""
from .base import SearchSpace, builtin_space_dir, get_space, list_spaces, register_space_kind
from .benchmarks import MacroSpace, NB201Space, OpChoiceSpace
from .cell import CellSpace
from .mobilenet import MobileNetV3Space
from .mobilenet_audio import MobileNetAudioSpace
from .union import UnionSpace
from .wav2small import Wav2SmallSpace

__all__ = [
    "SearchSpace",
    "CellSpace",
    "MacroSpace",
    "NB201Space",
    "OpChoiceSpace",
    "MobileNetV3Space",
    "MobileNetAudioSpace",
    "UnionSpace",
    "Wav2SmallSpace",
    "builtin_space_dir",
    "get_space",
    "list_spaces",
    "register_space_kind",
]
