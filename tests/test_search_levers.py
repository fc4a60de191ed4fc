"""The search's GPU levers (bf16 autocast, channels_last, compile, candidates per GPU): their CPU-side logic.

Resolution per device, the options recorded in the run config, a resume that changes them refused, CPU results
bit-exact under the defaults, bf16 on the CPU path running for one tiny candidate, and never autocasting a task that
says ``autocast = False``."""
from __future__ import annotations

import pytest
import torch
import yaml
from search_helpers import TINY_FLAGS

from eeea.cli import main
from eeea.errors import UserError
from eeea.runtime import Levers, resolve_levers
from eeea.search.config import GPU_WORKERS, check_resume, resolve_config
from eeea.search.executors import Evaluator, Job, candidate_seed

torch.set_num_threads(1)
CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # resolve_levers needs no GPU: it only reads the type
GENOME = "eeea:" + ";".join(f"{c}=" + ",".join("sep_conv_3x3@1" for _ in range(10)) for c in ("normal", "reduce"))
JOB = Job("k" * 16, GENOME, candidate_seed(0, "k" * 16), {"channels": 4, "layers": 3, "num_classes": 10,
                                                           "auxiliary": True},
          {"batch_size": 32, "max_steps": 2, "eval_batch_size": 100})


def test_levers_resolve_per_device_and_task():
    assert resolve_levers("auto", None, False, CPU) == Levers()  # the CPU stays fp32, bit-exact
    assert resolve_levers("auto", None, False, CUDA) == Levers(torch.bfloat16, True, False)
    assert resolve_levers("none", False, True, CUDA) == Levers(None, False, True)
    assert resolve_levers("bf16", True, False, CPU) == Levers(torch.bfloat16, True, False)
    assert resolve_levers("bf16", None, False, CUDA, autocast=False).amp is None  # e.g. SER's fp32 front end
    assert Levers(torch.bfloat16, True, True).describe() == "bf16+channels_last+compile"
    assert Levers().describe() == "fp32"
    with pytest.raises(UserError, match="--amp"):
        resolve_levers("fp16", None, False, CPU)


def test_search_config_records_levers_and_refuses_bad_ones():
    config = resolve_config({"task": "cifar10", "device": "cpu"})
    assert (config["amp"], config["channels_last"], config["compile"]) == ("auto", None, False)
    assert config["workers"] == 1  # the CPU default: the task's
    assert resolve_config({"task": "cifar10", "device": "cuda"})["workers"] == GPU_WORKERS
    assert resolve_config({"task": "ser", "device": "cuda:0"})["workers"] == GPU_WORKERS
    assert resolve_config({"task": "cifar10", "device": "cuda"}, {"workers": 2})["workers"] == 2  # asked: kept
    for bad, match in (({"amp": "fp16"}, "--amp"), ({"channels_last": "yes"}, "channels_last"),
                       ({"compile": 1}, "compile")):
        with pytest.raises(UserError, match=match):
            resolve_config({"task": "cifar10"}, bad)


def test_resume_with_changed_levers_is_refused():
    stored = resolve_config({"task": "cifar10", "device": "cpu"})
    for change in ({"amp": "bf16"}, {"channels_last": True}, {"compile": True}):
        with pytest.raises(UserError, match=next(iter(change))):
            check_resume(stored, resolve_config(stored, change), "RUN")
    check_resume(stored, resolve_config(stored, {"workers": 3}), "RUN")  # not a lever: free


def test_cli_records_the_levers_in_the_run_config(tmp_path):
    out = tmp_path / "run"
    flags = [*TINY_FLAGS, "--population", "2", "--generations", "0"]  # the last of a repeated flag wins
    assert main(["search", "--out", str(out), *flags, "--amp", "bf16",
                 "--no-channels-last"]) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert (config["amp"], config["channels_last"], config["compile"]) == ("bf16", False, False)
    assert main(["search", "--out", str(tmp_path / "x"), *flags, "--amp", "fp16"]) == 2  # one line, exit 2


def test_cpu_results_are_bit_exact_under_the_default_levers_and_bf16_runs():
    options = {"limit": 200}
    plain = Evaluator("cifar10", options, "eeea", "cpu", 1).evaluate(JOB)
    auto = Evaluator("cifar10", options, "eeea", "cpu", 1, {"amp": "auto", "channels_last": None}).evaluate(JOB)
    assert plain["status"] == auto["status"] == "ok"
    assert plain["objectives"] == auto["objectives"] and plain["extra"] == auto["extra"]
    bf16 = Evaluator("cifar10", options, "eeea", "cpu", 1, {"amp": "bf16", "channels_last": True})
    assert bf16.levers == Levers(torch.bfloat16, True, False)
    result = bf16.evaluate(JOB)
    assert result["status"] == "ok" and 0 <= result["objectives"]["error"] <= 1
    assert result["extra"]["train_loss"] != plain["extra"]["train_loss"]  # bf16 really ran
    assert torch.backends.mkldnn.enabled  # the CPU-autocast guard restored oneDNN


def test_a_task_that_must_not_autocast_never_does():
    ev = Evaluator("ser", {"crop_seconds": 0.5}, "wav2small", "cpu", 1, {"amp": "bf16"})
    assert ev.levers.amp is None
