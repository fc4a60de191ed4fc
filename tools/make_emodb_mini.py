"""Build eeea/data/emodb_mini.zip, the real-speech subset shipped in the package, from the EmoDB corpus zip.

Per speaker and emotion, the PER_CELL clips with the highest recognition rate in EmoDB's listening test
(``erkennung.txt``), kept whole at 16 kHz and stored as 16-bit FLAC (lossless) in an uncompressed zip.
Usage: python tools/make_emodb_mini.py path/to/emodb.zip [--per-cell 2]
"""
from __future__ import annotations

import argparse
import io
import zipfile
from collections import defaultdict
from pathlib import Path

import soundfile as sf

from eeea.data.emodb import EMBEDDED, parse_name


def recognition_rates(text: str) -> dict[str, float]:
    rates = {}
    for line in text.splitlines()[1:]:
        cols = [c.replace("\xa0", "").strip() for c in line.split("\t")]
        if len(cols) >= 3 and cols[1].endswith(".wav"):
            rates[cols[1]] = float(cols[2].replace(",", "."))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--per-cell", type=int, default=2)
    args = ap.parse_args()
    src = zipfile.ZipFile(args.corpus)
    rates = recognition_rates(src.read("erkennung.txt").decode("latin-1"))
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in src.namelist():
        parsed = parse_name(name)
        if parsed and name.endswith(".wav"):
            cells[(parsed[0], parsed[2])].append(name)
    chosen = sorted(n for names in cells.values()
                    for n in sorted(names, key=lambda n: (-rates.get(Path(n).name, 0.0), n))[: args.per_cell])
    out = Path(__file__).resolve().parents[1] / "eeea" / "data" / EMBEDDED
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for name in chosen:
            data, rate = sf.read(io.BytesIO(src.read(name)), dtype="int16")
            buf = io.BytesIO()
            sf.write(buf, data, rate, format="FLAC", subtype="PCM_16")
            dst.writestr(f"emodb_mini/{Path(name).stem}.flac", buf.getvalue())
    print(f"{out}: {len(chosen)} clips, {out.stat().st_size / 1e6:.2f} MB")
    print(" ".join(Path(n).stem for n in chosen))


if __name__ == "__main__":
    main()
