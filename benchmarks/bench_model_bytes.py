"""How well EE-PI's ``size`` screen bounds the int8 ONNX file: the count from the genome's module specs
(:mod:`eeea.filesize`) against the files export writes, static and dynamic, for random genomes of both speech-emotion
spaces within the default SER budget (72K params, 400M MACs per 5 s).

The files are written exactly as ``eeea export --format onnx-int8`` writes them (:func:`eeea.export.int8_variants`:
fp32 ONNX with its metadata, quantised statically on real EmoDB clips and dynamically, short tensor names), without
the accuracy check that picks one, so both are measured. Weights are random and every BatchNorm gets values like a
trained one's (:func:`eeea.filesize.as_trained`): a fresh network's all-zero folded biases are stored once and
shared, which makes its file smaller than a trained network's. The genomes are drawn with seeds other than those of
the exports the bound was fitted on.

``--fit`` instead fits :data:`eeea.filesize.BYTES` (least squares per int8 method on the genome's parts) and
:data:`eeea.filesize.MARGIN` (1.5 times the fit's largest under-estimate) on such exports and prints them, for
pasting into ``eeea/filesize.py``.

    python benchmarks/bench_model_bytes.py [--genomes 20] [--seed 1000] [--record] [--out FILE]
    python benchmarks/bench_model_bytes.py --fit [--genomes 40] [--seed 0]
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
from eeea.filesize import FIELDS, as_trained, walk_parts  # noqa: E402
from eeea.search.eepi import EEPI  # noqa: E402


def exports(genomes: int, seed: int):
    """``(space, genome, parts, {method: bytes})`` for ``genomes`` random genomes of each SER space."""
    for name in ("wav2small", "mobilenet_audio"):
        space = get_space(name)
        size = space.size()
        shape = space.input_shape(**size)
        calibration, _ = check_inputs(shape, n=2)
        eepi = EEPI(space, 72_000, 400_000_000)
        for i, x in enumerate(eepi.population(np.random.default_rng(seed), genomes)):
            genome = space.decode(x)
            torch.manual_seed(i)
            model = as_trained(space.build(genome, **size).eval(), seed=i)
            meta = describe(genome, size, interface_for(shape, size["outputs"]), True, {"task": "ser"})
            with tempfile.TemporaryDirectory() as tmp:
                files = int8_variants(model, shape, Path(tmp), meta, calibration)
                got = {m: p.stat().st_size for m, p in files.items()}
            yield space, genome, walk_parts(s for s, _ in space.spec_walk(genome, **size)), got


def fit(genomes: int, seed: int) -> None:
    rows = list(exports(genomes, seed))
    X = np.array([[1.0] + [float(getattr(parts, k)) for k in FIELDS] for _, _, parts, _ in rows])
    for method in ("static", "dynamic"):
        y = np.array([got[method] for *_, got in rows], dtype=float)
        coef = {"weights": 1.0, "floats": 4.0}  # by construction: one byte per int8 weight, four per float32 number
        fixed = sum(X[:, 1 + FIELDS.index(k)] * v for k, v in coef.items())
        free = ["constant", *(k for k in FIELDS if k not in coef)]
        columns = [0] + [1 + FIELDS.index(k) for k in free[1:]]
        coef.update(zip(free, np.linalg.lstsq(X[:, columns], y - fixed, rcond=None)[0]))
        under = max(float(y_i - X_i @ [coef[k] for k in ("constant", *FIELDS)]) for X_i, y_i in zip(X, y))
        print(f"{method}: {{{', '.join(f'{k!r}: {v:.4g}' for k, v in coef.items())}}}; largest under-estimate "
              f"{under:,.0f} B over {len(y)} exports, margin {1.5 * max(under, 0):,.0f} B")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genomes", type=int, default=20, help="random genomes per space")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--fit", action="store_true", help="fit the count's coefficients instead of checking them")
    ap.add_argument("--record", action="store_true", help="also write the figures into benchmarks/RESULTS.md")
    ap.add_argument("--out", metavar="FILE", help="also write the figures into FILE (the form of RESULTS.md)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.fit:
        fit(args.genomes, args.seed)
        return
    record = Recorder(args.record, args.out)
    command = "python benchmarks/bench_model_bytes.py " + " ".join(sys.argv[1:])
    errors: dict[str, list[float]] = {}
    for space, genome, _, got in exports(args.genomes, args.seed):
        bound = space.count_int8_bytes(genome, **space.size())
        errors.setdefault(space.name, []).append(bound - max(got.values()))
        print(f"{space.name} {genome.key}: count {bound:,} B, static {got['static']:,} B, dynamic {got['dynamic']:,} "
              f"B ({bound - max(got.values()):+,} B)", flush=True)
    for name, err in [*errors.items(), ("both spaces", sum(errors.values(), []))]:
        e = np.array(err)
        record("bench_model_bytes", f"{name}: int8 file size counted from the genome minus the larger of the "
               f"static and dynamic files export writes ({len(e)} random genomes with trained-like BatchNorms, seed "
               f"{args.seed}): least / median / largest", f"{e.min():+,.0f} / {np.median(e):+,.0f} / {e.max():+,.0f} B",
               ">= 0 (an upper bound)", command)


if __name__ == "__main__":
    main()
