"""Loading eeea models from elsewhere: torch.hub on the repository, and the example script run outside it."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch

from eeea import count_params, list_models, resolve_genome

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def hub_load(name: str, **kwargs) -> torch.nn.Module:
    return torch.hub.load(str(ROOT), name, source="local", **kwargs)


def test_hub_loads_eeea_c_and_c1_with_size_keywords():
    model = hub_load("eeea_c")
    assert sum(p.numel() for p in model.parameters()) == 3_513_358
    c1 = hub_load("eeea_c1", num_classes=10).eval()
    with torch.no_grad():
        assert c1(torch.randn(1, 3, 192, 192)).shape == (1, 10)
    assert sum(p.numel() for p in c1.parameters()) == count_params(resolve_genome("eeea_c1"), num_classes=10)


def test_hub_has_an_entry_point_for_every_zoo_model():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    for name in list_models():
        entry = getattr(hubconf, name)
        assert callable(entry) and entry.__name__ == name and entry.__doc__


def test_hub_refuses_pretrained_weights_it_does_not_have():
    with pytest.raises(ValueError, match="no pretrained weights"):
        hub_load("eeea_c1", pretrained=True)


def test_example_runs_from_another_directory(tmp_path):
    script = ROOT / "examples" / "use_eeea.py"
    genome_file = ROOT / "examples" / "my_mobilenet.yaml"
    result = subprocess.run(
        [sys.executable, str(script), str(genome_file)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "eeea_c1: 5,068,128 parameters, 135,878,208 MACs at 192 px" in result.stdout
    assert "space ofa_mbv3, 4,319,056 parameters (built model: 4,319,056)" in result.stdout


def test_hub_loads_from_a_checkout_without_eeea_installed(tmp_path):
    """README's promise: ``torch.hub.load(checkout, ..., source="local")`` needs eeea's dependencies, not eeea."""
    import eeea

    deps = sysconfig.get_paths()["purelib"]  # this interpreter's packages: torch, yaml, thop ...
    if Path(eeea.__file__).resolve().is_relative_to(Path(deps).resolve()):
        pytest.skip(f"eeea is installed as a plain package in {deps}: no environment without it can be made from it")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    env = {**os.environ, "PYTHONPATH": ""}
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()
    # a plain path entry: the .pth files in it (eeea's editable-install hook among them) are not processed
    (Path(site) / "deps.pth").write_text(deps + "\n")
    code = (
        "import sys, torch\n"
        "try:\n    import eeea\nexcept ImportError:\n    pass\n"
        "else:\n    sys.exit(f'eeea importable: {eeea.__file__}')\n"
        f"model = torch.hub.load({str(ROOT)!r}, 'eeea_c', source='local').eval()\n"
        "with torch.no_grad():\n    y = model(torch.randn(2, 3, 32, 32))\n"
        "print(tuple(y.shape), sum(p.numel() for p in model.parameters()))\n"
    )
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    result = subprocess.run([python, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["(2,", "10)", "3513358"]


def test_a_found_student_loads_by_hub_and_by_the_example(tmp_path):
    """torch.hub's ``from_run`` and examples/use_found_student.py load a checkpoint with its trained weights."""
    from eeea import Genome, get_space
    from eeea.checkpoint import save_checkpoint

    genome = Genome.from_text("nb201:edges=nor_conv_3x3,skip_connect,avg_pool_3x3,nor_conv_1x1,none,nor_conv_3x3")
    torch.manual_seed(5)
    model = get_space("nb201").build(genome, channels=4, cells=1).eval()
    ck = save_checkpoint(tmp_path / "ck", genome, model, {"channels": 4, "cells": 1})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(hub_load("from_run", path=str(ck))(x), model(x), rtol=0, atol=0)
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "use_found_student.py"), str(ck)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["create_model: (1, 10)", "torch.hub: True", "state dict: True"]
