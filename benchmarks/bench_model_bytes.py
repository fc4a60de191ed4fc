"""How well EE-PI's ``size`` screen bounds the int8 ONNX file: the count from the genome's module specs
(:mod:`eeea.filesize`) against the files export writes, static and dynamic, for random genomes of both speech-emotion
spaces within the default SER budget (72K params, 400M MACs per 5 s).

The files are written exactly as ``eeea export --format onnx-int8`` writes them (:func:`eeea.export.int8_variants`:
fp32 ONNX with its metadata, quantised statically on real EmoDB clips and dynamically, short tensor names), without
the accuracy check that picks one, so both are measured; weights are random (a file's size does not depend on
their values). The genomes are drawn with seeds other than those of the exports the bound was fitted on.

    python benchmarks/bench_model_bytes.py [--genomes 20] [--seed 1000] [--record] [--out FILE]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import Recorder  # noqa: E402

from eeea import get_space  # noqa: E402
from eeea.export import check_inputs, describe, interface_for  # noqa: E402
from eeea.export import int8_variants  # noqa: E402
from eeea.search.eepi import EEPI  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", type=int, default=20, help="random genomes per space")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--record", action="store_true", help="also write the figures into benchmarks/RESULTS.md")
    ap.add_argument("--out", metavar="FILE", help="also write the figures into FILE (the form of RESULTS.md)")
    args = ap.parse_args()
    record = Recorder(args.record, args.out)
    command = "python benchmarks/bench_model_bytes.py " + " ".join(sys.argv[1:])
    torch.set_num_threads(1)
    errors: dict[str, list[float]] = {}
    for name in ("wav2small", "mobilenet_audio"):
        space = get_space(name)
        size = space.size()
        shape = space.input_shape(**size)
        calibration, _ = check_inputs(shape, n=2)
        eepi = EEPI(space, 72_000, 400_000_000)
        for x in eepi.population(np.random.default_rng(args.seed), args.genomes):
            genome = space.decode(x)
            torch.manual_seed(0)
            model = space.build(genome, **size).eval()
            meta = describe(genome, size, interface_for(shape, size["outputs"]), True, {"task": "ser"})
            with tempfile.TemporaryDirectory() as tmp:
                files = int8_variants(model, shape, Path(tmp), meta, calibration)
                got = {m: p.stat().st_size for m, p in files.items()}
            bound = space.count_int8_bytes(genome, **size)
            errors.setdefault(name, []).append(bound - max(got.values()))
            print(f"{name} {genome.key}: count {bound:,} B, static {got['static']:,} B, dynamic {got['dynamic']:,} "
                  f"B ({bound - max(got.values()):+,} B)", flush=True)
    for name, err in [*errors.items(), ("both spaces", sum(errors.values(), []))]:
        e = np.array(err)
        record("bench_model_bytes", f"{name}: int8 file size counted from the genome minus the larger of the "
               f"static and dynamic files export writes ({len(e)} random genomes, seed {args.seed}): least / median "
               f"/ largest", f"{e.min():+,.0f} / {np.median(e):+,.0f} / {e.max():+,.0f} B",
               ">= 0 (an upper bound)", command)


if __name__ == "__main__":
    main()
