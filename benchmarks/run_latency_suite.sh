#!/usr/bin/env bash
# The full latency benchmark (issue 12): 200 random genomes per space, each space's table built on this machine
# (onnxruntime, 1 thread) with the genomes timed in the table's own passes, figures appended to
# benchmarks/RESULTS.md under "bench_latency". Every space at onnxruntime's default graph optimisation (all), and
# the cell spaces also at "extended" (no NCHWc layout transform: see docs/decisions.md).
#
# Run time on the 2-core x86_64 development machine, near idle: about 45 min in all (wav2small ~12 min, the others
# 3-8 min each). Tables are written to benchmarks/latency_tables/ (not committed) and rebuilt on every run: a table
# timed apart from the genomes meets another drift of a shared machine than they do.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/latency_tables
run() {  # space, optimisation
  local out="benchmarks/latency_tables/$1${2:+-$2}"
  mkdir -p "$out" && rm -f "$out/$1.json"
  python benchmarks/bench_latency.py --spaces "$1" --genomes 200 --passes 3 --samples 300 --shapes 2 --budget 0.1 \
    --calibrate 60 --optimization "${2:-all}" --tables "$out" --csv "$out" --quiet
}
for space in mobilenet_audio ofa_mbv3 nb201 eeea wav2small; do  # quickest first
  run "$space"
done
for space in nb201 eeea; do
  run "$space" extended
done
