#!/usr/bin/env bash
# The full latency benchmark (issue 12): 200 random genomes per space, tables built on this machine (onnxruntime,
# 1 thread), figures appended to benchmarks/RESULTS.md under "bench_latency". Run it on an otherwise idle machine:
# the figures are CPU time of one thread, but a busy machine (other processes on the sibling core) still slows
# and scatters them.
#
# Expected run time on the 2-core x86_64 development machine (load 2-6), extrapolated from 40-genome, 2-pass runs
# (table build + 200 genomes x 3 passes, each genome exported once):
#   wav2small ~12 min (table 5.5 min), mobilenet_audio ~5 min (table 1.2 min), ofa_mbv3 ~7 min (table 1 min),
#   nb201 ~3 min (table 12 s), eeea at 8 cells, C = 16 ~7 min (table 30 s); about 35 min in all, 2-3x that at load
#   ~12. Tables are kept in benchmarks/latency_tables/ (not committed), so a rerun only re-times the networks;
#   delete them to rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/latency_tables
for space in mobilenet_audio ofa_mbv3 nb201 eeea wav2small; do  # quickest first
  python benchmarks/bench_latency.py --spaces "$space" --genomes 200 --passes 3 --samples 300 --shapes 2 \
    --table-passes 3 --budget 0.1 --calibrate 20 --tables benchmarks/latency_tables --quiet
done
