"""Using eeea's architectures from another project: build by zoo name, from a genome file, and count them.

Run from anywhere once eeea is installed (``pip install eeea`` or ``pip install -e path/to/eeea``):

    python examples/use_eeea.py [GENOME_FILE]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

import eeea


def main(genome_file: str | None = None) -> None:
    # 1. A published architecture by name, at a size of your choice (the paper's CIFAR network here, 100 classes).
    model = eeea.create_model("eeea_c", num_classes=100)
    print(f"eeea_c (CIFAR-100): {sum(p.numel() for p in model.parameters()):,} parameters")

    # 2. An ImageNet model: EEEA-Net-C1 runs at its genome's 192 px; its params and MACs come without building it.
    genome = eeea.resolve_genome("eeea_c1")
    print(f"eeea_c1: {eeea.count_params(genome):,} parameters, {eeea.count_macs(genome):,} MACs at 192 px")
    model = eeea.create_model("eeea_c1", num_classes=10).eval()
    with torch.no_grad():
        print("eeea_c1 logits for one 192 px image:", tuple(model(torch.randn(1, 3, 192, 192)).shape))

    # 3. A genome file (what a search writes into its run directory, or one you edit by hand).
    if genome_file is None:
        genome_file = str(Path(tempfile.mkdtemp()) / "eeea_c.yaml")
        eeea.resolve_genome("eeea_c").save(genome_file)
    genome = eeea.Genome.load(genome_file)
    model = eeea.create_model(genome_file)
    print(f"{genome_file}: space {genome.space}, {eeea.count_params(genome):,} parameters "
          f"(built model: {sum(p.numel() for p in model.parameters()):,})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
