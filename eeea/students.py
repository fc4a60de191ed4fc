"""Named audio students defined in code (the zoo's cell genotypes are data in ``genotypes.yaml``)."""
from __future__ import annotations

from .genome import Genome
from .zoo import register_model


@register_model("wav2small_17k", "public Wav2Small 2.0 layout (Kounadis-Bastian et al., 2024): 10,806 trainable params")
def wav2small_17k() -> Genome:
    """Seven 3x3 Conv-BN-ReLU blocks of 13 channels, max-pool after the third, attention+Gram pooling, 26 mels."""
    return Genome("wav2small", {
        "mels": 26,
        "hop": 32,
        "channels": [13] * 7,
        "kernels": [3] * 7,
        "pool": [0, 0, 1, 0, 0, 0, 0],
        "head": "attention_gram",
    })
