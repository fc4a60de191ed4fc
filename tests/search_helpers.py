"""Shared settings for the search tests: a tiny real search (CIFAR-10 subset, 4-channel 3-cell nets, a few steps)."""
from __future__ import annotations

TINY_FLAGS = [
    "--task", "cifar10", "--population", "4", "--generations", "1", "--channels", "4", "--layers", "3", "--batch-size", "32",
    "--max-steps", "2", "--limit", "300", "--device", "cpu", "--threads", "1", "--quiet",
]

TINY_CONFIG = {
    "task": "cifar10", "population": 4, "generations": 1, "size": {"channels": 4, "layers": 3},
    "train": {"batch_size": 32, "max_steps": 2, "eval_batch_size": 100},
    "task_config": {"limit": 300}, "device": "cpu", "threads": 1,
}
