#!/usr/bin/env bash
# The full latency benchmark (issue 12): 200 random genomes per space, tables built on this machine (onnxruntime,
# 1 thread), figures appended to benchmarks/RESULTS.md under "bench_latency". Run it on an otherwise idle machine:
# the figures are CPU time of one thread, but a busy machine (other processes on the sibling core) still slows
# and scatters them.
#
# Expected run time on the 2-core x86_64 development machine at load ~2 (per space: table + 200 genomes x 3 passes):
#   wav2small ~25 min, mobilenet_audio ~20 min, ofa_mbv3 ~10 min, nb201 ~5 min, eeea (8 cells, C=16) ~8 min;
#   about 70 min in all (roughly 3x that at load ~10). Tables are kept in benchmarks/latency_tables/ so a rerun only
#   re-times the networks (delete them to rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/latency_tables
for space in wav2small mobilenet_audio ofa_mbv3 nb201 eeea; do
  python benchmarks/bench_latency.py --spaces "$space" --genomes 200 --passes 3 --samples 300 --shapes 2 \
    --table-passes 3 --budget 0.1 --calibrate 20 --tables benchmarks/latency_tables --quiet
done
