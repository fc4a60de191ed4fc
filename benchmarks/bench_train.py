"""Training throughput (img/s) of EEEA-Net-C at the paper's size, one row per speed lever.

The network and step are the ``eeea train --recipe paper`` ones: ``eeea_c``, C = 36, 20 cells, auxiliary head
(weight 0.4), drop-path 0.2, batch 96, SGD, gradient clipping 5; batches come from the embedded CIFAR-10 subset held
on the device as uint8 and augmented there (crop, flip, cutout 16). Levers (cumulative): ``fp32``, ``bf16``
(autocast), ``bf16+cl`` (channels_last), ``bf16+cl+compile`` (``torch.compile(mode="reduce-overhead")``: CUDA graphs
on CUDA). The figure is ``batch / median step time`` over the timed steps after warm-up.

Reference: the original release, 623 img/s on one H200 (fp32); the target for this project's CUDA path is 2,500 img/s.
Prints each figure and appends it to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from eeea.data.cifar import CIFAR_MEAN, CIFAR_STD, load_cifar
from eeea.data.device import DeviceImages
from eeea.tasks.training import TrainConfig, cpu_amp_guard, make_optimizer, train_step
from eeea.runtime import resolve_device
from eeea.zoo import create_model

sys.path.insert(0, os.path.dirname(__file__))
from _results import record  # noqa: E402

LEVERS = {
    "fp32": (None, False, False),
    "bf16": (torch.bfloat16, False, False),
    "bf16+cl": (torch.bfloat16, True, False),
    "bf16+cl+compile": (torch.bfloat16, True, True),
}


def time_lever(device: torch.device, data: DeviceImages, lever: str, batch: int, warmup: int, steps: int,
               channels: int = 36, layers: int = 20) -> float:
    """Median seconds per training step with ``lever`` (``channels``/``layers``: the paper size unless asked)."""
    amp, channels_last, compiled = LEVERS[lever]
    torch.manual_seed(0)
    model = create_model("eeea_c", channels=channels, layers=layers, num_classes=10, auxiliary=True,
                         drop_path_prob=0.2)
    model = model.to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model, mode="reduce-overhead") if compiled else model
    cfg = TrainConfig(batch_size=batch, lr=0.025, nesterov=False, weight_decay=3e-4, cutout=16, drop_path=0.2)
    opt, _ = make_optimizer(model, cfg, 1000)
    generator = torch.Generator().manual_seed(0)
    times = []
    with cpu_amp_guard(device, amp):
        batches = data.batches(batch, generator, augment=True, cutout=cfg.cutout)
        for i in range(warmup + steps):
            try:
                x, y = next(batches)
            except StopIteration:
                batches = data.batches(batch, generator, augment=True, cutout=cfg.cutout)
                x, y = next(batches)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            t = time.perf_counter()
            train_step(net, x, y, opt, cfg, amp)  # reads the loss back: the step has finished on the device
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    ap.add_argument("--levers", help="comma list of " + ", ".join(LEVERS) + " (default: all on CUDA; no compile on "
                    "the CPU, where inductor compiles the 20-cell graph for many minutes)")
    ap.add_argument("--batch-size", type=int, default=96)
    ap.add_argument("--channels", type=int, default=36, help="initial channels (paper 36; smaller for smoke runs)")
    ap.add_argument("--layers", type=int, default=20, help="cells (paper 20)")
    ap.add_argument("--warmup", type=int, help="untimed steps (default 20 on CUDA, 1 on the CPU)")
    ap.add_argument("--steps", type=int, help="timed steps (default 50 on CUDA, 3 on the CPU)")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    levers = args.levers.split(",") if args.levers else [k for k in LEVERS if cuda or "compile" not in k]
    unknown = [k for k in levers if k not in LEVERS]
    if unknown:
        ap.error(f"unknown lever {unknown[0]!r} (levers: {', '.join(LEVERS)})")
    warmup = args.warmup if args.warmup is not None else (20 if cuda else 1)
    steps = args.steps if args.steps is not None else (50 if cuda else 3)
    if cuda:
        torch.backends.cudnn.benchmark = True
    data = DeviceImages(load_cifar("cifar10"), device, CIFAR_MEAN, CIFAR_STD)
    for lever in levers:
        step = time_lever(device, data, lever, args.batch_size, warmup, steps, args.channels, args.layers)
        rate = args.batch_size / step
        print(f"{lever}: {rate:,.1f} img/s ({step * 1000:.0f} ms per step, median of {steps} after {warmup} warm-up)")
        if not args.no_record and (args.channels, args.layers) == (36, 20):
            cmd = (f"python benchmarks/bench_train.py --device {args.device} --levers {lever} --warmup {warmup} "
                   f"--steps {steps}" + (f" --threads {args.threads}" if args.threads else ""))
            target = "release 623 img/s fp32 on an H200; target >= 2,500 there" if cuda else "-"
            record("bench_train", f"eeea_c C36 20 cells b{args.batch_size} aux+drop-path train img/s, {lever}",
                   f"{rate:,.1f}", target, cmd)


if __name__ == "__main__":
    main()
