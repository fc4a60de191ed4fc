"""Using a network that eeea trained or found, in another project. With eeea installed, three lines:

    import eeea
    model = eeea.create_model("runs/ser-20261202-101500", "3f2a9c")  # a search run and a member's key, a checkpoint
    arousal_dominance_valence = model(audio)                          # or an eeea train run; audio: [batch, samples]

Without installing eeea, torch.hub on a checkout of it does the same (part 2 below), and plain torch reads the weights
(part 3). Run it on your own run:

    python examples/use_found_student.py RUN_DIR KEY      # a member of a search run (eeea show RUN_DIR lists keys)
    python examples/use_found_student.py CHECKPOINT_DIR   # a checkpoint, or an eeea train run directory
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch


def main(path: str, key: str | None = None) -> None:
    # 1. With eeea installed: the network with its trained weights, in eval mode.
    import eeea
    from eeea.runs import locate

    model = eeea.create_model(path, key)
    found = locate(path, key)  # where the network is, its genome and size
    x = torch.randn(1, *found.input_shape())  # a stand-in input: 16 kHz audio, or an image
    with torch.no_grad():
        print("create_model:", tuple(model(x).shape))

    # 2. Without installing eeea: torch.hub on a checkout of it (its dependencies installed).
    checkout = str(Path(__file__).resolve().parents[1])
    hub = torch.hub.load(checkout, "from_run", path, key, source="local")
    with torch.no_grad():
        print("torch.hub:", torch.equal(hub(x), model(x)))

    # 3. Plain torch: weights.pt is a state dict of the network that genome.yaml describes at its meta.size.
    import yaml

    meta = yaml.safe_load((found.checkpoint / "genome.yaml").read_text())["meta"]
    net = eeea.create_model(str(found.checkpoint / "genome.yaml"), **meta["size"])
    net.load_state_dict(torch.load(found.checkpoint / "weights.pt", weights_only=True))
    with torch.no_grad():
        print("state dict:", torch.equal(net.eval()(x), model(x)))


if __name__ == "__main__":
    main(*sys.argv[1:3])
